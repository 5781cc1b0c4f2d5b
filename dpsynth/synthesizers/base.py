"""The ``Synthesizer`` base every dpsynth synthesizer shares.

A synthesizer is fitted on a sensitive table under a privacy budget and then
samples synthetic rows. The base class does what all of them need, once:

* validates the budget and the public schema, and encodes the table to integer
  codes (a :class:`~dpsynth.data.schema.Schema` with its rules, or a
  :class:`~dpsynth.data.domain.Domain` for tables that are integer codes
  already);
* creates (or adopts) the :class:`~dpsynth.privacy.accountant.PrivacyAccountant`
  that every measurement is charged to, and keeps its ledger;
* decodes sampled codes back to values, and saves/loads the fitted model.

Subclasses implement :meth:`Synthesizer._fit` (measurements through
:mod:`dpsynth.mechanisms` only), :meth:`Synthesizer._sample_codes` and the model
(de)serialisation. A fitted synthesizer holds only privatized artifacts: noisy
measurements and what is computed from them, never rows or exact counts.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from dpsynth._random import RngLike, as_generator
from dpsynth.data.dataset import Dataset
from dpsynth.data.domain import Domain
from dpsynth.data.encoding import Encoder
from dpsynth.data.io import atomic_write
from dpsynth.data.schema import Schema
from dpsynth.errors import (
    BudgetExceededError,
    NotFittedError,
    PrivacyWarning,
    ValidationError,
)
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.conversions import rho_for_epsilon
from dpsynth.privacy.ledger import Ledger

__all__ = ["MODEL_FORMAT", "Progress", "Synthesizer"]

logger = logging.getLogger(__name__)

#: ``callback(stage, done, total)``: progress of a fit (``total`` may be 0 when
#: unknown). Stages are named by each synthesizer ("measure", "select", ...).
Progress = Callable[[str, int, int], None]

MODEL_FORMAT = "dpsynth-model"
MODEL_VERSION = 1


def _check_budget(epsilon: Any, delta: Any) -> tuple[float, float]:
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float):
        raise ValidationError(f"`epsilon` ({epsilon!r}) must be a positive number.")
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ValidationError(
            f"`epsilon` ({epsilon!r}) must be positive and finite. Hint: typical "
            "releases use 0.1 to 10."
        )
    if isinstance(delta, bool) or not isinstance(delta, int | float):
        raise ValidationError(f"`delta` ({delta!r}) must be a number in (0, 1).")
    if not 0 < delta < 1:
        raise ValidationError(
            f"`delta` ({delta!r}) must be in (0, 1). Hint: use far less than 1/n, "
            "e.g. 1e-9."
        )
    return float(epsilon), float(delta)


class Synthesizer(ABC):
    """Base class of the differentially private synthesizers.

    Hyperparameters are keyword-only ``__init__`` arguments stored unchanged (so
    :meth:`get_params` works for benchmark grids); fitted state ends in ``_``.

    Subclasses set :attr:`name` and implement ``_fit``, ``_sample_codes``,
    ``_model_to_dict`` and ``_model_from_dict``.
    """

    #: Registry name (``make_synthesizer(name)``).
    name: ClassVar[str] = ""
    #: Whether the fit sizes later noise from earlier noisy outputs; if so the
    #: accountant is declared fully adaptive before anything is spent
    #: (:meth:`PrivacyAccountant.declare_fully_adaptive`: zCDP composition only).
    fully_adaptive: ClassVar[bool] = False

    # ------------------------------------------------------------ parameters
    def get_params(self) -> dict[str, Any]:
        """The hyperparameters given to ``__init__`` (sklearn-style)."""
        sig = inspect.signature(type(self).__init__)
        return {
            p: getattr(self, p)
            for p in sig.parameters
            if p != "self" and hasattr(self, p)
        }

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        data: pd.DataFrame | Dataset,
        *,
        schema: Schema | Domain,
        epsilon: float | None = None,
        delta: float | None = None,
        accountant: PrivacyAccountant | None = None,
        rng: RngLike = None,
        callback: Progress | None = None,
    ) -> Self:
        """Fits the synthesizer with differential privacy.

        Args:
            data: the sensitive table: a DataFrame with the schema's columns (for
                a :class:`Domain`, columns of integer codes), or a Dataset.
            schema: the PUBLIC schema (values are encoded by its rules), or a
                Domain when the table is integer codes already.
            epsilon: the budget's epsilon. Without ``accountant`` a new
                ``PrivacyAccountant(epsilon=epsilon, delta=delta)`` is made.
            delta: the budget's delta.
            accountant: spend what remains of this accountant's budget instead
                (e.g. after a private schema discovery on the same data); then
                ``epsilon`` and ``delta`` may be left out, and if given must equal
                its budget.
            rng: seed or Generator for the synthesizer's own (non-DP) randomness:
                tie-breaks and model sampling. DP noise comes from OpenDP's
                unseedable sampler.
            callback: ``callback(stage, done, total)`` reports progress.

        Returns:
            self.

        Raises:
            ValidationError: bad budget, schema or data; raised before any spend.
            BudgetExceededError: the budget cannot pay for the first measurement;
                raised before anything is sampled.
        """
        accountant = self._accountant(epsilon, delta, accountant)
        dataset, encoder = self._encode(data, schema)
        if isinstance(schema, Schema) and not schema.provenance.get("private", True):
            warnings.warn(
                "The schema was inferred from the data WITHOUT differential privacy "
                "(provenance private = false): the release leaks what it discloses "
                "(category lists, bounds) beyond the accounted epsilon.",
                PrivacyWarning,
                stacklevel=2,
            )
        self._check_params()
        self._check_data(dataset)
        if self.fully_adaptive:
            # checked on a copy: a refusal leaves the caller's accountant as it was
            trial = copy.deepcopy(accountant)
            trial.declare_fully_adaptive()
            _check_remaining(trial)
            accountant.declare_fully_adaptive()
        else:
            _check_remaining(accountant)
        gen = as_generator(rng)
        self.domain_ = dataset.domain
        self.encoder_ = encoder
        self.schema_ = schema
        positions = None
        if (
            self._wants_positions()
            and encoder is not None
            and encoder.binned
            and isinstance(data, pd.DataFrame)
        ):
            positions = encoder.positions(data)
        self._fit_rows(dataset, positions, accountant, gen, callback or _no_progress)
        self.ledger_ = accountant.ledger
        self.budget_ = accountant.budget
        logger.info(
            "%s fitted: epsilon = %.6g at delta = %g (%d ledger entries)",
            self.name,
            self.ledger_.epsilon,
            self.budget_.delta,
            len(self.ledger_),
        )
        return self

    @staticmethod
    def _accountant(
        epsilon: Any, delta: Any, accountant: PrivacyAccountant | None
    ) -> PrivacyAccountant:
        if accountant is None:
            if epsilon is None or delta is None:
                raise ValidationError(
                    "`epsilon` and `delta` must be given (or an `accountant`)."
                )
            eps, dlt = _check_budget(epsilon, delta)
            return PrivacyAccountant(epsilon=eps, delta=dlt)
        if not isinstance(accountant, PrivacyAccountant):
            raise ValidationError(
                f"`accountant` ({accountant!r}) must be a PrivacyAccountant."
            )
        budget = accountant.budget
        if budget.is_unlimited:
            raise ValidationError(
                "`accountant` (unlimited) must have a finite budget: a synthesizer "
                "plans its noise to land on the budget."
            )
        for name, given, own in (
            ("epsilon", epsilon, budget.epsilon),
            ("delta", delta, budget.delta),
        ):
            if given is not None and given != own:
                raise ValidationError(
                    f"`{name}` ({given!r}) must equal the accountant's budget "
                    f"({own!r}) or be left out."
                )
        return accountant

    @staticmethod
    def _encode(data: Any, schema: Any) -> tuple[Dataset, Encoder | None]:
        if isinstance(schema, Schema):
            encoder = Encoder(schema)
            if isinstance(data, Dataset):
                if data.domain != encoder.domain:
                    raise ValidationError(
                        "`data` (a Dataset) must have the schema's domain "
                        f"{encoder.domain!r}; got {data.domain!r}."
                    )
                return data, encoder
            if not isinstance(data, pd.DataFrame):
                raise ValidationError(
                    f"`data` ({type(data).__name__}) must be a pandas DataFrame."
                )
            return encoder.encode(data), encoder
        if isinstance(schema, Domain):
            if isinstance(data, Dataset):
                if data.domain != schema:
                    raise ValidationError(
                        f"`data` (domain {data.domain!r}) must have the domain "
                        f"{schema!r}."
                    )
                return data, None
            if not isinstance(data, pd.DataFrame):
                raise ValidationError(
                    f"`data` ({type(data).__name__}) must be a pandas DataFrame."
                )
            return Dataset.from_frame(data, schema), None
        raise ValidationError(
            f"`schema` ({type(schema).__name__}) must be a Schema (load one with "
            "Schema.load) or a Domain (for integer-coded tables)."
        )

    def _check_params(self) -> None:  # noqa: B027 - optional hook
        """Validates the hyperparameters (subclasses override)."""

    def _check_data(self, dataset: Dataset) -> None:  # noqa: B027 - optional hook
        """Validates hyperparameters that refer to the columns (subclasses override).

        Runs before anything touches the accountant; must not read the data.
        """

    def _wants_positions(self) -> bool:
        """Whether the fit models values inside their bins (subclasses override).

        When it does, and the data is a DataFrame under a Schema with binned
        columns, :meth:`_fit_rows` receives each value's position inside its bin
        (:meth:`Encoder.positions`), and :meth:`_sample_rows` may return
        positions for the decoding.
        """
        return False

    def _fit_rows(
        self,
        dataset: Dataset,
        positions: np.ndarray | None,
        accountant: PrivacyAccountant,
        rng: np.random.Generator,
        callback: Progress,
    ) -> None:
        """The fit on codes and, when asked for and available, positions.

        ``positions`` is rows by ``encoder_.binned`` columns (sensitive like the
        codes), or None. By default the codes alone go to :meth:`_fit`.
        """
        self._fit(dataset, accountant, rng, callback)

    @abstractmethod
    def _fit(
        self,
        dataset: Dataset,
        accountant: PrivacyAccountant,
        rng: np.random.Generator,
        callback: Progress,
    ) -> None:
        """Measures ``dataset`` through the mechanisms and builds the model."""

    # --------------------------------------------------------------- sample
    def _check_fitted(self) -> None:
        if not hasattr(self, "ledger_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet. Call fit(...) (or "
                "load a saved model) before sample()."
            )

    @property
    def ledger(self) -> Ledger:
        """The ledger of the fit: every measurement and selection it paid for."""
        self._check_fitted()
        return self.ledger_

    @property
    def estimated_rows(self) -> float:
        """The model's noisy estimate of the number of rows (post-processing)."""
        self._check_fitted()
        return self._estimated_rows()

    @abstractmethod
    def _estimated_rows(self) -> float:
        """The noisy row-count estimate the default sample size comes from."""

    def sample(self, n: int | None = None, *, rng: RngLike = None) -> pd.DataFrame:
        """Samples synthetic rows (post-processing: no privacy cost).

        Args:
            n: number of rows; by default the model's noisy estimate of the
                number of rows (never the true count, which is private).
            rng: seed or Generator for the sampling and decoding.

        Returns:
            A DataFrame with the schema's columns and dtypes (integer codes for a
            Domain).

        Raises:
            NotFittedError: before :meth:`fit`.
            ValidationError: for a bad ``n``.
        """
        self._check_fitted()
        if n is None:
            n = max(int(round(self._estimated_rows())), 1)
        elif isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValidationError(f"`n` ({n!r}) must be an integer >= 1.")
        gen_sample, gen_decode = as_generator(rng).spawn(2)
        codes, positions = self._sample_rows(int(n), gen_sample)
        if self.encoder_ is None:
            return codes.to_frame()
        return self.encoder_.decode(codes, rng=gen_decode, positions=positions)

    @abstractmethod
    def _sample_codes(self, n: int, rng: np.random.Generator) -> Dataset:
        """Draws ``n`` rows of codes from the fitted model."""

    def _sample_rows(
        self, n: int, rng: np.random.Generator
    ) -> tuple[Dataset, np.ndarray | None]:
        """``n`` rows of codes and their positions inside their bins, or None.

        By default codes only (:meth:`_sample_codes`): decoding then draws each
        binned value uniformly inside its bin.
        """
        return self._sample_codes(n, rng), None

    # ----------------------------------------------------------- save / load
    @abstractmethod
    def _model_to_dict(self) -> dict[str, Any]:
        """The fitted model as JSON-ready data."""

    @abstractmethod
    def _model_from_dict(self, data: dict[str, Any]) -> None:
        """Restores the fitted model from :meth:`_model_to_dict`'s data."""

    def to_dict(self) -> dict[str, Any]:
        """The fitted synthesizer as JSON-ready data (post-processing only).

        Holds the hyperparameters, the public schema or domain, the ledger and
        the model; never a row of the input.
        """
        self._check_fitted()
        schema = self.schema_
        return {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "synthesizer": self.name,
            "params": self.get_params(),
            "schema": schema.to_dict() if isinstance(schema, Schema) else None,
            "domain": self.domain_.to_dict(),
            "ledger": self.ledger_.to_dict(),
            "model": self._model_to_dict(),
        }

    def save(self, path: str | Path) -> Path:
        """Writes the fitted model as JSON, atomically; returns the path."""
        text = json.dumps(self.to_dict(), allow_nan=False) + "\n"
        return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    @classmethod
    def from_dict(cls, data: Any) -> Synthesizer:
        """Rebuilds a fitted synthesizer from :meth:`to_dict`'s data.

        Called on :class:`Synthesizer`, it picks the class by the recorded name.

        Raises:
            ValidationError: for data that is not a dpsynth model.
        """
        from dpsynth.synthesizers.registry import synthesizer_class

        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise ValidationError(
                f"`model` must be a dict with format {MODEL_FORMAT!r} (a file written "
                "by Synthesizer.save)."
            )
        if data.get("version") != MODEL_VERSION:
            raise ValidationError(
                f"`version` ({data.get('version')!r}) must be {MODEL_VERSION}."
            )
        klass = synthesizer_class(data.get("synthesizer"))
        if cls is not Synthesizer and klass is not cls:
            raise ValidationError(
                f"`synthesizer` ({data.get('synthesizer')!r}) must be {cls.name!r} to "
                f"load with {cls.__name__}; use Synthesizer.load."
            )
        params = data.get("params")
        if not isinstance(params, dict):
            raise ValidationError(f"`params` ({params!r}) must be a dict.")
        obj = klass(**params)
        schema = data.get("schema")
        if schema is not None:
            obj.schema_ = Schema.from_dict(schema)
            obj.encoder_ = Encoder(obj.schema_)
            obj.domain_ = obj.encoder_.domain
        else:
            obj.domain_ = Domain(data.get("domain") or {})
            obj.schema_ = obj.domain_
            obj.encoder_ = None
        obj.ledger_ = PrivacyAccountant.from_ledger(data.get("ledger")).ledger
        obj.budget_ = obj.ledger_.budget
        model = data.get("model")
        if not isinstance(model, dict):
            raise ValidationError(f"`model` ({type(model).__name__}) must be a dict.")
        obj._model_from_dict(model)
        return obj

    @classmethod
    def load(cls, path: str | Path) -> Synthesizer:
        """Loads a model written by :meth:`save`.

        Raises:
            ValidationError: if the file is missing or not a dpsynth model.
        """
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ValidationError(
                f"`path` ({str(p)!r}) must be a dpsynth model JSON file: {exc}"
            ) from exc
        return cls.from_dict(data)


#: A fit refuses to start when less than this share of the budget (in zCDP rho)
#: remains: its measurements would be noise and nothing else.
MIN_REMAINING_SHARE = 1e-6


def _check_remaining(accountant: PrivacyAccountant) -> None:
    budget = accountant.budget
    whole = rho_for_epsilon(budget.epsilon, budget.delta)
    if accountant.remaining_rho() < MIN_REMAINING_SHARE * whole:
        raise BudgetExceededError(
            f"The accountant's budget is spent (epsilon = {accountant.epsilon():.6g} "
            f"of {budget.epsilon:.6g} at delta = {budget.delta:g}): less than "
            f"{MIN_REMAINING_SHARE:g} of it remains, too little for any measurement; "
            "nothing was spent or sampled. Hint: fit with a larger budget or a "
            "fresh accountant.",
            requested=accountant.epsilon(),
            budget=budget.epsilon,
            delta=budget.delta,
        )


def _no_progress(stage: str, done: int, total: int) -> None:
    """The default progress callback: debug logging."""
    logger.debug("%s %d/%d", stage, done, total)
