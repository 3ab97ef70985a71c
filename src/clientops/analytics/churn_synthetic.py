"""Simulated window summaries with a planted churn signal, for tests and the benchmark.

Each customer's churn probability is known: the log-odds fall with the spend trend (strongly),
rise with the change in service tickets (strongly) and fall with tenure (weakly); every other
column is noise drawn independently. So a model must find spend and tickets first, and its
ROC-AUC can be compared with the Bayes-optimal AUC of the true probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

SPEND_WEIGHT = -1.4
"""Log-odds per unit of log(spend_w0 / spend_w1)."""
TICKETS_WEIGHT = 0.7
"""Log-odds per extra service ticket against the previous window."""
TENURE_WEIGHT = -0.25
"""Log-odds per standard deviation of log tenure."""
INTERCEPT = -1.6


@dataclass(frozen=True)
class Snapshot:
    """One simulated cut-off: the summary (with label columns) and the true probabilities."""

    cutoff: date
    summary: pd.DataFrame
    truth: npt.NDArray[np.float64]


def true_logit(summary: pd.DataFrame) -> npt.NDArray[np.float64]:
    """The planted log-odds of churn for each row of a summary."""
    spend_w0 = summary["spend_w0"].to_numpy(dtype=np.float64)
    ratio = np.log(np.maximum(spend_w0, 1e-9) / summary["spend_w1"].to_numpy(dtype=np.float64))
    tickets = (summary["tickets_w0"] - summary["tickets_w1"]).to_numpy(dtype=np.float64)
    z_tenure = (np.log(summary["tenure_days"].to_numpy(dtype=np.float64)) - 6.0) / 0.8
    spend = SPEND_WEIGHT * np.maximum(ratio, -3.0)
    logit: npt.NDArray[np.float64] = INTERCEPT + spend + TICKETS_WEIGHT * tickets
    logit += TENURE_WEIGHT * z_tenure
    return logit


def _figures(rng: np.random.Generator, n: int, window_days: int) -> dict[str, object]:
    """The window figures of ``n`` customers; spend and tickets carry the signal."""
    rate = rng.gamma(1.5, 1.0, n)
    spend_w1 = np.round(rng.lognormal(5.0, 0.8, n), 2)
    spend_w0 = np.round(spend_w1 * np.exp(rng.normal(-0.1, 0.5, n)), 2)
    spend_w0[rng.random(n) < 0.08] = 0.0  # some stop buying altogether
    tier_w1 = rng.integers(0, 4, n).astype(np.float64)
    step = rng.choice([-1.0, 0.0, 1.0], n, p=[0.1, 0.85, 0.05])
    return {
        "window_days": np.full(n, window_days, dtype=np.int64),
        "tenure_days": np.round(rng.lognormal(6.0, 0.8, n)) + 1,
        "days_since_last_order": np.where(rng.random(n) < 0.05, np.nan, rng.integers(0, 120, n)),
        "orders_w0": rng.poisson(rate * np.exp(rng.normal(0, 0.4, n))).astype(np.float64),
        "orders_w1": rng.poisson(rate).astype(np.float64),
        "spend_w0": spend_w0,
        "spend_w1": spend_w1,
        "days_since_last_event": rng.integers(0, 60, n).astype(np.float64),
        "events_w0": rng.poisson(8, n).astype(np.float64),
        "events_w1": rng.poisson(8, n).astype(np.float64),
        "tickets_w0": rng.poisson(0.4 * np.exp(rng.normal(0, 0.8, n))).astype(np.float64),
        "tickets_w1": rng.poisson(0.4, n).astype(np.float64),
        "csat_mean": np.where(rng.random(n) < 0.4, np.nan, np.round(rng.uniform(1, 5, n), 1)),
        "tier_rank_w0": np.clip(tier_w1 + step, 0, 3),
        "tier_rank_w1": tier_w1,
    }


def snapshot(
    n: int, cutoff: date, *, seed: int, window_days: int = 30, horizon_days: int = 30
) -> Snapshot:
    """``n`` customers at one cut-off, churn drawn from the planted probabilities."""
    rng = np.random.default_rng(seed)
    summary = pd.DataFrame({"customer_id": np.arange(1, n + 1, dtype=np.int64)})
    summary = summary.assign(**_figures(rng, n, window_days))
    truth = 1.0 / (1.0 + np.exp(-true_logit(summary)))
    churned = rng.random(n) < truth
    next_order = rng.integers(1, horizon_days + 1, n).astype(np.float64)
    summary["next_order_days"] = np.where(churned, np.nan, next_order)
    summary["next_event_days"] = np.where(churned, np.nan, next_order)
    summary["contract_end_days"] = np.nan
    summary["contract_renewed"] = np.nan
    return Snapshot(cutoff, summary, truth)


def snapshots(
    n: int, count: int, *, seed: int = 1, last: date = date(2026, 10, 31), spacing_days: int = 30
) -> list[Snapshot]:
    """``count`` cut-offs ``spacing_days`` apart ending at ``last``, ``n`` customers each."""
    days = [last - timedelta(days=spacing_days * (count - 1 - i)) for i in range(count)]
    return [snapshot(n, day, seed=seed * 1000 + i) for i, day in enumerate(days)]
