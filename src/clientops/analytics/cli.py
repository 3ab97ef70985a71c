"""``clientops clv fit ORDERS.csv ...``: fit CLV models on a transaction file, no server needed."""

from __future__ import annotations

import json
import math
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from clientops.analytics import clv, clv_report
from clientops.analytics.clv import ClvError, FitResult
from clientops.core.csvsafe import safe_cell
from clientops.core.i18n import gettext

clv_app = typer.Typer(
    help="Customer lifetime value: BG/NBD, Pareto/NBD and Gamma-Gamma on a transaction file.",
    no_args_is_help=True,
)
# A year in each period unit: the default prediction horizon.
YEAR = {"day": 365, "week": 52, "month": 12}
FITTERS = {"bgnbd": clv.fit_bgnbd, "paretonbd": clv.fit_pareto_nbd}
Floats = npt.NDArray[np.float64]


def _parse_date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ClvError(
            gettext("%(option)s %(value)s is not a date like 2024-03-31")
            % {"option": option, "value": repr(text)}
        ) from exc


@clv_app.command("fit")
def fit(
    file: Annotated[Path, typer.Argument(help="CSV file of orders, one row per order.")],
    customer: Annotated[str, typer.Option("--customer", help="Column with the customer id.")],
    date_column: Annotated[str, typer.Option("--date", help="Column with the order date.")],
    amount: Annotated[str, typer.Option("--amount", help="Column with the order amount.")],
    calibration_end: Annotated[
        str, typer.Option("--calibration-end", help="Last day (ISO) of the calibration period.")
    ],
    period: Annotated[
        str, typer.Option("--period", help="Time unit: day, week or month.")
    ] = "week",
    model: Annotated[
        str, typer.Option("--model", help="Repeat-purchase model: bgnbd or paretonbd.")
    ] = "bgnbd",
    observation_end: Annotated[
        str | None,
        typer.Option("--observation-end", help="Last day of the holdout (default: last date)."),
    ] = None,
    horizon: Annotated[
        int | None,
        typer.Option("--horizon", help="Prediction horizon in periods (default: one year)."),
    ] = None,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", help="Discount rate per period, e.g. 0.01.")
    ] = 0.0,
    predictions: Annotated[
        Path | None, typer.Option("--predictions", help="Write per-customer predictions here.")
    ] = None,
    date_format: Annotated[
        str | None,
        typer.Option("--date-format", help="strptime format of the dates, e.g. %Y%m%d."),
    ] = None,
    count_by: Annotated[
        str,
        typer.Option(
            "--count-by", help="day: purchases on one day count once; period: per period."
        ),
    ] = "day",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Fit purchase and spend models on a CSV of orders and check them on the holdout."""
    started = time.monotonic()
    try:
        result, table = _run(
            file, customer=customer, date_column=date_column, amount=amount,
            calibration_end=calibration_end, period=period, model=model,
            observation_end=observation_end, horizon=horizon, discount_rate=discount_rate,
            date_format=date_format, count_by=count_by,
        )  # fmt: skip
        if predictions is not None:
            _write_predictions(predictions, table)
            result["predictions_file"] = str(predictions)
    except ClvError as exc:
        typer.echo(gettext("error: %(why)s") % {"why": exc}, err=True)
        raise typer.Exit(2) from exc
    result["seconds"] = round(time.monotonic() - started, 3)
    if as_json:
        typer.echo(json.dumps(_json_safe(result), ensure_ascii=False))
    else:
        _print(result)


def _run(file: Path, **options: Any) -> tuple[dict[str, Any], pd.DataFrame]:
    """Summarise, fit both models, check on the holdout, predict; the result and the table."""
    model, period = options["model"], options["period"]
    if model not in FITTERS:
        raise ClvError(gettext("--model must be bgnbd or paretonbd"))
    if period not in YEAR:
        raise ClvError(gettext("period must be day, week or month"))
    summary = clv_report.summarise_csv(
        file,
        customer=options["customer"],
        date=options["date_column"],
        amount=options["amount"],
        calibration_end=_required_date(options["calibration_end"]),
        period=period,
        observation_end=_parse_date(options["observation_end"], "--observation-end"),
        count_by=options["count_by"],
        date_format=options["date_format"],
    )
    x, t, age, money = (summary.column(c) for c in ("frequency", "recency", "T", "monetary"))
    repeat_fit = FITTERS[model](x, t, age)
    spend_fit = clv.fit_gamma_gamma(x, money)
    horizon = YEAR[period] if options["horizon"] is None else options["horizon"]
    table = _predict(summary, repeat_fit, spend_fit, horizon, options["discount_rate"])
    return _result(summary, repeat_fit, spend_fit, horizon, options, table), table


def _required_date(text: str) -> date:
    parsed = _parse_date(text, "--calibration-end")
    assert parsed is not None
    return parsed


def _predict(
    summary: clv_report.Summary,
    repeat_fit: FitResult,
    spend_fit: FitResult,
    horizon: int,
    discount_rate: float,
) -> pd.DataFrame:
    """The per-customer prediction table (the columns of the predictions file)."""
    x, t, age, money = (summary.column(c) for c in ("frequency", "recency", "T", "monetary"))
    table = summary.table[["customer", "frequency", "recency", "T", "monetary"]].copy()
    table["p_alive"] = clv.p_alive(repeat_fit, x, t, age)
    table["expected_purchases"] = clv.expected_purchases(repeat_fit, horizon, x, t, age)
    table["expected_value"] = clv.expected_value(
        repeat_fit, spend_fit, x, t, age, money, horizon, discount_rate
    )
    return table


def _result(
    summary: clv_report.Summary,
    repeat_fit: FitResult,
    spend_fit: FitResult,
    horizon: int,
    options: dict[str, Any],
    table: pd.DataFrame,
) -> dict[str, Any]:
    """The JSON document (keys documented in the CLI reference; keep them stable)."""
    report = None
    if summary.holdout_periods > 0:
        report = clv_report.calibration_holdout(
            repeat_fit,
            summary.column("frequency"),
            summary.column("recency"),
            summary.column("T"),
            summary.column("frequency_holdout"),
            summary.holdout_periods,
        ).as_dict()
    return {
        "model": repeat_fit.model,
        "period": summary.period,
        "count_by": summary.count_by,
        "calibration_end": summary.calibration_end.isoformat(),
        "observation_end": summary.observation_end.isoformat() if summary.observation_end else None,
        "transactions": summary.transactions,
        "customers": len(summary.table),
        "repeat_customers": int((summary.column("frequency") > 0).sum()),
        "customers_after_calibration": summary.customers_after_calibration,
        "repeat_model": repeat_fit.as_dict(),
        "spend_model": spend_fit.as_dict(),
        "horizon_periods": horizon,
        "discount_rate": options["discount_rate"],
        "expected_purchases_total": float(table["expected_purchases"].sum()),
        "expected_value_total": float(table["expected_value"].sum()),
        "calibration_holdout": report,
    }


def _write_predictions(path: Path, table: pd.DataFrame) -> None:
    """Per-customer CSV; ids that a spreadsheet would run as formulas are neutralised."""
    out = table.copy()
    out["customer"] = [safe_cell(value) for value in out["customer"]]
    try:
        out.to_csv(path, index=False, float_format="%.6f", encoding="utf-8")
    except OSError as exc:
        raise ClvError(
            gettext("cannot write %(path)s: %(why)s") % {"path": path, "why": exc}
        ) from exc


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null: JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _params_table(title: str, fit: dict[str, Any]) -> Table:
    table = Table(title=title)
    for header in (gettext("Parameter"), gettext("Estimate"), gettext("Std. error")):
        table.add_column(header, justify="right")
    for name, value in fit["params"].items():
        error = fit["std_errors"].get(name)
        table.add_row(name, f"{value:.4f}", "—" if error is None else f"{error:.4f}")
    table.caption = gettext("log-likelihood %(ll).2f · %(n)s customers") % {
        "ll": fit["log_likelihood"],
        "n": f"{fit['n_customers']:,}",
    }
    return table


def _print(result: dict[str, Any]) -> None:
    out = Console()
    out.print(
        _params_table(gettext("Repeat purchases (%(model)s)") % result, result["repeat_model"])
    )
    out.print(_params_table(gettext("Spend per purchase (Gamma-Gamma)"), result["spend_model"]))
    report = result["calibration_holdout"]
    if report:
        table = Table(
            title=gettext("Holdout check (%(n)s periods)") % {"n": report["holdout_periods"]}
        )
        for header in (
            gettext("Repeat purchases"),
            gettext("Customers"),
            gettext("Actual"),
            gettext("Model"),
        ):
            table.add_column(header, justify="right")
        for row in report["rows"]:
            actual, predicted = row["actual"], row["predicted"]
            table.add_row(
                row["frequency"],
                f"{row['customers']:,}",
                "—" if actual is None else f"{actual:.3f}",
                "—" if predicted is None else f"{predicted:.3f}",
            )
        out.print(table)
    out.print(
        gettext("Expected value over %(h)s periods: %(v)s")
        % {"h": result["horizon_periods"], "v": f"{result['expected_value_total']:,.2f}"}
    )
