"""CLV fits and predictions on simulated customers, side by side with the ``lifetimes`` library.

    python bench/clv_fit.py --size 1000000
    python bench/clv_fit.py --size 1000000 --reference-size 1000000 --pareto-reference-size 20000
    python bench/clv_fit.py --size 1000000 --summary-rows 10000000

Customers are drawn from the BG/NBD and Pareto/NBD processes (``clientops.analytics.
clv_synthetic``) with 26-52 weeks of history and purchase times truncated to whole days, as a
transaction log records them. Timed, each in this process, wall clock (and CPU time for ours):

- ``bgnbd``: ``clv.fit_bgnbd`` on ``--size`` customers; lifetimes ``BetaGeoFitter.fit`` on the
  first ``--reference-size`` of them (default: all);
- ``paretonbd``: ``clv.fit_pareto_nbd``; lifetimes ``ParetoNBDFitter.fit`` on the first
  ``--pareto-reference-size`` (default 20,000: it takes minutes beyond that);
- ``expected_value``: 12 months, 1% a month, for ``--size`` customers with monthly periods;
  lifetimes ``GammaGammaFitter.customer_lifetime_value`` (``freq="M"``) with the same
  parameters on ``--reference-size``; also the largest relative difference of the two;
- ``summary`` (with ``--summary-rows``): ``clv_report.summarise_transactions`` on that many
  order rows.

A reference measured on fewer customers says so (``reference_customers``); its time is not
scaled. lifetimes 0.11 runs on pandas 3 / NumPy 2 except that ``BetaGeoFitter`` sets its
``predict`` alias only in ``fit``: set here by hand when parameters are given. Prints one JSON
line of figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import warnings
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from clientops.analytics import clv, clv_report, clv_synthetic

BGNBD = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
PARETO = {"r": 0.55, "alpha": 10.0, "s": 0.6, "beta": 12.0}
SPEND = {"p": 6.0, "q": 3.8, "gamma": 15.0}
MONTH_DAYS = 365.25 / 12


def timed(work: Callable[[], Any]) -> tuple[Any, float, float]:
    """The result, wall seconds and CPU seconds of this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def reference_fit(fitter: Any, x: np.ndarray, t: np.ndarray, T: np.ndarray) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fitter.fit(pd.Series(x), pd.Series(t), pd.Series(T))


def fit_figures(ours: clv.FitResult, seconds: tuple[float, float]) -> dict[str, Any]:
    return {
        "seconds": round(seconds[0], 3),
        "cpu_seconds": round(seconds[1], 3),
        "collapsed_rows": ours.n_rows,
        "iterations": ours.iterations,
        "params": {k: round(v, 5) for k, v in ours.params.items()},
        "log_likelihood": round(ours.log_likelihood, 2),
    }


def bench_fit(
    name: str, data: tuple[np.ndarray, ...], reference: Any, reference_size: int
) -> dict[str, Any]:
    fitter = clv.fit_bgnbd if name == "bgnbd" else clv.fit_pareto_nbd
    ours, wall, cpu = timed(lambda: fitter(*data))
    figures = fit_figures(ours, (wall, cpu))
    k = min(reference_size, len(data[0]))
    if k > 0:
        fitted, ref_wall, _ = timed(lambda: reference_fit(reference, *(d[:k] for d in data)))
        figures["reference_seconds"] = round(ref_wall, 3)
        figures["reference_customers"] = k
        figures["reference_params"] = {k_: round(float(v), 5) for k_, v in fitted.params_.items()}
    return figures


def bench_value(size: int, reference_size: int, seed: int) -> dict[str, Any]:
    """Expected value over 12 monthly periods, discounted 1% a month."""
    import lifetimes

    x, t, T = clv_synthetic.bgnbd(
        size, **BGNBD, min_T=6, max_T=24, days_per_period=MONTH_DAYS, seed=seed
    )
    money = clv_synthetic.mean_spend(x, **SPEND, seed=seed)
    bg, gg = clv.fit_bgnbd(x, t, T), clv.fit_gamma_gamma(x, money)
    ours, wall, cpu = timed(lambda: clv.expected_value(bg, gg, x, t, T, money, 12, 0.01))
    figures: dict[str, Any] = {"seconds": round(wall, 3), "cpu_seconds": round(cpu, 3)}
    k = min(reference_size, size)
    if k > 0:
        ref_bg = lifetimes.BetaGeoFitter()
        ref_bg.params_ = pd.Series(bg.params)
        ref_bg.predict = ref_bg.conditional_expected_number_of_purchases_up_to_time
        ref_gg = lifetimes.GammaGammaFitter()
        ref_gg.params_ = pd.Series(
            {"p": gg.params["p"], "q": gg.params["q"], "v": gg.params["gamma"]}
        )
        columns = [pd.Series(a[:k]) for a in (x, t, T, money)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want, ref_wall, _ = timed(
                lambda: ref_gg.customer_lifetime_value(
                    ref_bg, *columns, time=12, discount_rate=0.01, freq="M"
                )
            )
        difference = np.abs(ours[:k] / want.to_numpy() - 1)
        figures.update(
            reference_seconds=round(ref_wall, 3),
            reference_customers=k,
            max_relative_difference=float(np.nanmax(difference)),
        )
    return figures


def bench_summary(rows: int, seed: int) -> dict[str, Any]:
    """Summaries of ``rows`` orders from rows // 10 customers over two years."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2023-01-01")
    frame = pd.DataFrame(
        {
            "customer": rng.integers(0, max(rows // 10, 1), rows),
            "date": start + rng.integers(0, 730, rows).astype("timedelta64[D]"),
            "amount": rng.gamma(2.0, 20.0, rows).round(2),
        }
    )
    summary, wall, cpu = timed(
        lambda: clv_report.summarise_transactions(
            frame,
            customer="customer",
            date="date",
            amount="amount",
            calibration_end=date(2023, 12, 31),
            observation_end=date(2023, 12, 31) + timedelta(365),
        )
    )
    return {
        "rows": rows,
        "customers": len(summary.table),
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--reference-size", type=int, default=None)
    parser.add_argument("--pareto-reference-size", type=int, default=20_000)
    parser.add_argument("--summary-rows", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    import lifetimes

    reference_size = args.size if args.reference_size is None else args.reference_size
    clv.fit_bgnbd(*clv_synthetic.bgnbd(2000, **BGNBD, seed=args.seed))  # warm the imports
    week = {"days_per_period": 7.0, "seed": args.seed}
    bg_data = clv_synthetic.bgnbd(args.size, **BGNBD, **week)
    pareto_data = clv_synthetic.pareto_nbd(args.size, **PARETO, **week)
    figures: dict[str, Any] = {"workload": "clv_fit", "customers": args.size}
    figures["bgnbd"] = bench_fit("bgnbd", bg_data, lifetimes.BetaGeoFitter(), reference_size)
    figures["paretonbd"] = bench_fit(
        "paretonbd", pareto_data, lifetimes.ParetoNBDFitter(), args.pareto_reference_size
    )
    figures["expected_value_12_months"] = bench_value(args.size, reference_size, args.seed)
    if args.summary_rows:
        figures["summary"] = bench_summary(args.summary_rows, args.seed)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
