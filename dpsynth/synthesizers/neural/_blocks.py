"""Per-column softmax over concatenated logit blocks, without padding (torch).

A network's output is one block of logits per column
(:class:`~dpsynth.synthesizers.neural.encoding.TabularRepresentation`). Each
block's log-normaliser is computed as ``log(exp(logits - top) @ M) + top``,
where ``M`` (width x columns) marks each logit's block and ``top`` is the
block's maximum, found without gradient (the log-sum-exp does not depend on
the shift, so its gradient is exact). The backward pass is an elementwise
``exp`` and one small matmul: about 7 ms a step cheaper on Adult than gathering
the blocks into a padded (rows x columns x widest block) array, whose backward
is a scatter-add, and the DP step pays every backward twice (ghost clipping).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dpsynth.synthesizers.neural.encoding import TabularRepresentation

__all__ = ["TorchBlocks"]


@dataclass(frozen=True)
class TorchBlocks:
    """The block structure of a representation, as torch tensors.

    Attributes:
        member: ``(width,)`` long: the block (column) of each logit.
        matrix: ``(width, columns)`` float32, 1 where a logit is in a block.
        padded: ``(columns, widest block)`` long: each block's logits, padded
            with ``width`` (a ``-inf`` column appended to the logits).
    """

    member: Any
    matrix: Any
    padded: Any

    @classmethod
    def of(
        cls, torch: Any, rep: TabularRepresentation, device: str = "cpu"
    ) -> TorchBlocks:
        """The blocks of ``rep``, on ``device``."""
        member = torch.empty(rep.width, dtype=torch.long)
        for j, block in enumerate(rep.blocks):
            member[block.start : block.stop] = j
        matrix = torch.zeros(rep.width, len(rep.blocks))
        matrix[torch.arange(rep.width), member] = 1.0
        widest = max(b.size for b in rep.blocks)
        padded = torch.full((len(rep.blocks), widest), rep.width, dtype=torch.long)
        for j, block in enumerate(rep.blocks):
            padded[j, : block.size] = torch.arange(block.start, block.stop)
        return cls(
            member=member.to(device),
            matrix=matrix.to(device),
            padded=padded.to(device),
        )

    def top(self, torch: Any, logits: Any) -> Any:
        """Each block's maximum, rows x columns, without gradient."""
        with torch.no_grad():
            pad = torch.full(
                (logits.shape[0], 1),
                -torch.inf,
                dtype=logits.dtype,
                device=logits.device,
            )
            return torch.cat([logits, pad], dim=1)[:, self.padded].amax(dim=2)

    def logsumexp(self, torch: Any, logits: Any) -> Any:
        """Each block's log-normaliser, rows x columns."""
        top = self.top(torch, logits)
        return torch.log(torch.exp(logits - top[:, self.member]) @ self.matrix) + top

    def softmax(self, torch: Any, logits: Any) -> Any:
        """The per-block softmax of ``logits``, rows x width."""
        top = self.top(torch, logits)
        e = torch.exp(logits - top[:, self.member])
        return e / (e @ self.matrix)[:, self.member]
