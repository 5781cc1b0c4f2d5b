"""The only place dpsynth draws noise for a DP guarantee (OpenDP's exact samplers).

Every mechanism validates its arguments, checks its privacy event against the loss
OpenDP's privacy map states, charges the accountant (which refuses an overshoot
before anything is sampled), and only then runs the OpenDP measurement. The
neighbouring relation is add/remove one row throughout.

OpenDP's samplers use a cryptographic RNG and cannot be seeded, by design: test
the statistics of the noise, and test post-processing with fixed measurements.
"""

from dpsynth.mechanisms.noise import (
    gaussian_counts,
    laplace_counts,
    laplace_scale_for_epsilon,
)
from dpsynth.mechanisms.quantile import quantiles
from dpsynth.mechanisms.selection import noisy_max
from dpsynth.mechanisms.threshold import threshold_for_delta, threshold_histogram

__all__ = [
    "gaussian_counts",
    "laplace_counts",
    "laplace_scale_for_epsilon",
    "noisy_max",
    "quantiles",
    "threshold_for_delta",
    "threshold_histogram",
]
