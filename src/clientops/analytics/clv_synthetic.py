"""Customers drawn from the BG/NBD and Pareto/NBD generative processes (tests and benchmarks).

Each draw returns ``(frequency, recency, T)`` arrays. ``T`` is drawn uniformly between
``min_T`` and ``max_T`` periods (customers acquired at different times). With ``days_per_period``
set, purchase times are truncated to whole days, as a transaction log with dates records them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


def _ages(rng: np.random.Generator, n: int, min_T: float, max_T: float, day: float | None) -> Array:
    ages = rng.uniform(min_T, max_T, n)
    return np.floor(ages * day) / day if day else ages


def _last_of(rng: np.random.Generator, x: Array, window: Array) -> Array:
    """Time of the last of x uniform purchase times in [0, window] (0 when x = 0)."""
    safe = np.maximum(x, 1)
    return np.where(x > 0, window * rng.uniform(size=len(x)) ** (1 / safe), 0.0)


def _to_days(recency: Array, T: Array, day: float | None) -> Array:
    """Purchase times truncated to whole days (never after T, which is already whole days)."""
    return np.minimum(np.floor(recency * day) / day, T) if day else recency


def bgnbd(
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    min_T: float = 26.0,
    max_T: float = 52.0,
    days_per_period: float | None = None,
    seed: int = 1,
) -> tuple[Array, Array, Array]:
    """Draw ``n`` customers: λ ~ Gamma(r, α), p ~ Beta(a, b), drop out after a repeat purchase
    with probability p (Fader, Hardie & Lee 2005)."""
    rng = np.random.default_rng(seed)
    T = _ages(rng, n, min_T, max_T, days_per_period)
    rate = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    # Purchases while alive: a geometric number (≥ 1, the last one is followed by dropout).
    alive_count = rng.geometric(dropout)
    # Given C Poisson arrivals in [0, T], the x-th of them falls at T·Beta(x, C - x + 1).
    arrivals = rng.poisson(rate * T)
    x = np.minimum(arrivals, alive_count).astype(np.float64)
    safe_x = np.maximum(x, 1)
    recency = np.where(x > 0, T * rng.beta(safe_x, np.maximum(arrivals - x, 0) + 1), 0.0)
    return x, _to_days(recency, T, days_per_period), T


def pareto_nbd(
    n: int,
    *,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    min_T: float = 26.0,
    max_T: float = 52.0,
    days_per_period: float | None = None,
    seed: int = 1,
) -> tuple[Array, Array, Array]:
    """Draw ``n`` customers: λ ~ Gamma(r, α), μ ~ Gamma(s, β), lifetime ~ Exponential(μ),
    Poisson purchases while alive (Schmittlein, Morrison & Colombo 1987)."""
    rng = np.random.default_rng(seed)
    T = _ages(rng, n, min_T, max_T, days_per_period)
    rate = rng.gamma(r, 1 / alpha, n)
    death = rng.exponential(1 / rng.gamma(s, 1 / beta, n))
    window = np.minimum(death, T)
    x = rng.poisson(rate * window).astype(np.float64)
    return x, _to_days(_last_of(rng, x, window), T, days_per_period), T


def mean_spend(frequency: Array, *, p: float, q: float, gamma: float, seed: int = 1) -> Array:
    """Mean spend of each customer's x repeat purchases under Gamma-Gamma (0 when x = 0):
    ν ~ Gamma(q, γ), each spend ~ Gamma(p, ν), so the mean of x is Gamma(p·x, x·ν)."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(q, 1 / gamma, len(frequency))
    x = np.maximum(frequency, 1)
    return np.where(frequency > 0, rng.gamma(p * x, 1 / (x * rate)), 0.0)
