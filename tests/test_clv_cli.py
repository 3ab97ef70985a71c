"""``clientops clv fit ORDERS.csv ...``: no server, no database, JSON or a table."""

from __future__ import annotations

import csv
import json
from datetime import date
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from clientops.analytics import clv, clv_report
from clientops.cli import app

pytestmark = pytest.mark.nodb  # touches no database: runs once, in the SQLite pass

pytest.importorskip("lifetimes")

HEADER = ["客户", "下单日期", "金额"]
ARGS = ["--customer", "客户", "--date", "下单日期", "--amount", "金额"]


def _clv(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["clv", "fit", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The raw CDNOW order log as a CSV with Chinese headers and yyyymmdd dates."""
    source = Path(str(resources.files("lifetimes") / "datasets" / "CDNOW_sample.txt"))
    raw = pd.read_csv(source, sep=r"\s+", header=None, names=["m", "id", "day", "cds", "usd"])
    path = tmp_path_factory.mktemp("clv") / "cdnow.csv"
    raw[["id", "day", "usd"]].set_axis(HEADER, axis=1).to_csv(path, index=False)
    return path


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def test_fit_from_the_raw_cdnow_log_gives_the_summary_fit_and_the_published_figures(
    cdnow_csv: Path,
) -> None:
    code, stdout, stderr = _clv(
        str(cdnow_csv), *ARGS, "--period", "week", "--calibration-end", "1997-09-30",
        "--date-format", "%Y%m%d", "--json",
    )  # fmt: skip
    assert code == 0, stderr
    result = json.loads(stdout)
    summary = clv_report.summarise_csv(
        cdnow_csv, customer="客户", date="下单日期", amount="金额",
        calibration_end=date(1997, 9, 30), date_format="%Y%m%d",
    )  # fmt: skip
    direct = clv.fit_bgnbd(*(summary.column(c) for c in ("frequency", "recency", "T")))
    assert result["repeat_model"]["params"] == pytest.approx(direct.params, rel=1e-9)
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert abs(result["repeat_model"]["params"][name] - value) <= 0.001
    assert abs(result["repeat_model"]["log_likelihood"] - -9582.4) <= 0.05
    assert set(result["repeat_model"]["std_errors"]) == set(published)
    assert result["spend_model"]["n_customers"] == 946
    assert result["spend_model"]["params"]["gamma"] == pytest.approx(15.44, abs=0.005)
    assert result["customers"] == 2357 and result["repeat_customers"] == 946
    assert result["observation_end"] == "1998-06-30"
    assert result["calibration_holdout"]["actual_total"] == 1882
    assert result["horizon_periods"] == 52  # a year of weeks by default


def test_pareto_nbd_and_predictions_file(cdnow_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "predictions.csv"
    code, stdout, stderr = _clv(
        str(cdnow_csv), *ARGS, "--calibration-end", "1997-09-30", "--date-format", "%Y%m%d",
        "--model", "paretonbd", "--horizon", "26", "--discount-rate", "0.002",
        "--predictions", str(out), "--json",
    )  # fmt: skip
    assert code == 0, stderr
    result = json.loads(stdout)
    assert result["model"] == "paretonbd" and result["predictions_file"] == str(out)
    assert abs(result["repeat_model"]["params"]["beta"] - 11.669) <= 0.001
    table = pd.read_csv(out, dtype={"customer": str})
    assert list(table.columns) == [
        "customer", "frequency", "recency", "T", "monetary",
        "p_alive", "expected_purchases", "expected_value",
    ]  # fmt: skip
    assert len(table) == 2357 and table["p_alive"].between(0, 1).all()
    assert table["expected_value"].sum() == pytest.approx(result["expected_value_total"], 1e-4)


def _small_log(tmp_path: Path, first_customer: str = "c1") -> Path:
    rows = [
        [first_customer, "2024-01-02", "10"], [first_customer, "2024-02-05", "12.5"],
        [first_customer, "2024-03-01", "9"], ["c2", "2024-01-10", "30"],
        ["c2", "2024-01-24", "25"], ["c3", "2024-02-01", "5"], ["c3", "2024-04-02", "6"],
        ["c4", "2024-03-15", "8"],
    ]  # fmt: skip
    return _write(tmp_path / "orders.csv", rows)


def test_customer_ids_that_look_like_formulas_are_neutralised(tmp_path: Path) -> None:
    source = _small_log(tmp_path, first_customer="=HYPERLINK(1)")
    out = tmp_path / "out.csv"
    code, _, stderr = _clv(
        str(source), *ARGS, "--calibration-end", "2024-03-31", "--period", "day",
        "--predictions", str(out), "--json",
    )  # fmt: skip
    assert code == 0, stderr
    customers = [row[0] for row in csv.reader(out.open(encoding="utf-8"))][1:]
    assert "'=HYPERLINK(1)" in customers and "=HYPERLINK(1)" not in customers


def test_without_json_a_readable_table(tmp_path: Path) -> None:
    code, stdout, stderr = _clv(
        str(_small_log(tmp_path)), *ARGS, "--calibration-end", "2024-03-31", "--period", "day"
    )
    assert code == 0, stderr
    assert "Repeat purchases (bgnbd)" in stdout and "Gamma-Gamma" in stdout
    assert "alpha" in stdout and "Holdout check" in stdout


@pytest.mark.parametrize(
    ("rows", "extra", "message"),
    [
        ([["c1", "2024-01-02", "10"], ["c1", "2024-13-40", "3"]], [], "date '2024-13-40' on row 2"),
        (
            [["c1", "2024-01-02", "10"], ["c1", "2024-01-05", "-3"]],
            [],
            "negative amount '-3' on row 2",
        ),
        ([["c1", "2024-01-02", "ten"]], [], "amount 'ten' on row 1"),
        ([["", "2024-01-02", "10"]], [], "empty customer on row 1"),
        ([["c1", "2024-01-02", "10"], ["c2", "2024-01-03", "5"]], [], "no customer made a repeat"),
        ([["c1", "2024-06-02", "10"]], [], "no purchases on or before the calibration end"),
        ([["c1", "2024-01-02", "10"]], ["--model", "gbm"], "--model must be bgnbd or paretonbd"),
    ],
)
def test_bad_input_gives_a_clear_error(
    tmp_path: Path, rows: list[list[str]], extra: list[str], message: str
) -> None:
    source = _write(tmp_path / "orders.csv", rows)
    code, stdout, stderr = _clv(str(source), *ARGS, "--calibration-end", "2024-03-31", *extra)
    assert code == 2 and stdout == ""
    assert message in stderr


def test_missing_column_and_bad_dates_in_options(tmp_path: Path) -> None:
    source = _small_log(tmp_path)
    code, _, stderr = _clv(
        str(source), "--customer", "id", "--date", "下单日期", "--amount", "金额",
        "--calibration-end", "2024-03-31",
    )  # fmt: skip
    assert code == 2 and "column not found: id (the file has: 客户, 下单日期, 金额)" in stderr
    code, _, stderr = _clv(str(source), *ARGS, "--calibration-end", "31/03/2024")
    assert code == 2 and "--calibration-end '31/03/2024' is not a date" in stderr
    code, _, stderr = _clv(str(tmp_path / "nope.csv"), *ARGS, "--calibration-end", "2024-03-31")
    assert code == 2 and "file not found" in stderr


def test_no_repeat_spend_means_no_spend_model(tmp_path: Path) -> None:
    rows = [["c1", "2024-01-02", "10"], ["c1", "2024-01-09", "0"], ["c2", "2024-01-03", "5"]]
    source = _write(tmp_path / "orders.csv", rows)
    code, _, stderr = _clv(str(source), *ARGS, "--calibration-end", "2024-03-31")
    assert code == 2 and "Gamma-Gamma needs repeat buyers with spend above 0" in stderr
