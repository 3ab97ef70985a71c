"""DCMA 14-point assessment: a clean plan passes, and each check fails in a known way."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import pytest

from clientops.core import i18n
from clientops.projects.control import dcma
from clientops.projects.control.dcma import ScheduleLink, ScheduleTask

pytestmark = pytest.mark.nodb  # touches no database: runs once, in the SQLite pass

STATUS = date(2026, 3, 11)  # a Wednesday


def d(day: int) -> date:
    """A day of March 2026."""
    return date(2026, 3, day)


def clean_tasks() -> list[ScheduleTask]:
    """A small plan, scheduled and statused on 11 March, that passes every check."""
    return [
        ScheduleTask("S", "Kick-off", is_milestone=True, baseline_start=d(2), baseline_finish=d(2),
                     actual_start=d(2), actual_finish=d(2), total_float=0),
        ScheduleTask("A", "Workshops", duration=5, baseline_start=d(2), baseline_finish=d(6),
                     actual_start=d(2), actual_finish=d(6), has_resources=True, total_float=0),
        ScheduleTask("B", "Build", duration=10, baseline_start=d(9), baseline_finish=d(20),
                     actual_start=d(9), early_start=d(9), early_finish=d(20), late_start=d(9),
                     late_finish=d(20), total_float=0, has_resources=True, remaining_duration=7),
        ScheduleTask("C", "Data migration", duration=5, baseline_start=d(12),
                     baseline_finish=d(18), early_start=d(12), early_finish=d(18),
                     late_start=d(16), late_finish=d(20), total_float=2, has_resources=True),
        ScheduleTask("D", "Training", duration=5, baseline_start=d(23), baseline_finish=d(27),
                     early_start=d(23), early_finish=d(27), total_float=0, has_resources=True),
        ScheduleTask("F", "Go-live", is_milestone=True, baseline_start=d(27),
                     baseline_finish=d(27), early_start=d(27), early_finish=d(27),
                     total_float=0),
        ScheduleTask("P", "Phase 1", is_summary=True, duration=20),
    ]  # fmt: skip


def clean_links() -> list[ScheduleLink]:
    """Finish-to-start logic without lags."""
    pairs = [("S", "A"), ("A", "B"), ("A", "C"), ("B", "D"), ("C", "D"), ("D", "F")]
    return [ScheduleLink(pred, succ) for pred, succ in pairs]


def faithful_cpm(task_id: str, delay: float) -> float:
    """A critical path that carries a delay straight to the finish."""
    return delay


def run(
    tasks: list[ScheduleTask] | None = None,
    links: list[ScheduleLink] | None = None,
    **options: object,
) -> dict[str, dcma.DcmaCheck]:
    """The checks by code."""
    options.setdefault("critical_path_test", faithful_cpm)
    checks = dcma.assess(
        tasks if tasks is not None else clean_tasks(),
        links if links is not None else clean_links(),
        status_date=STATUS,
        **options,  # type: ignore[arg-type]
    )
    return {c.code: c for c in checks}


def change(task_id: str, **fields: object) -> list[ScheduleTask]:
    """The clean plan with one task changed."""
    return [replace(t, **fields) if t.id == task_id else t for t in clean_tasks()]  # type: ignore[arg-type]


def failing(checks: dict[str, dcma.DcmaCheck]) -> set[str]:
    """Codes of the checks that failed."""
    return {code for code, check in checks.items() if check.passed is False}


def test_a_clean_plan_passes_all_fourteen_checks_in_order() -> None:
    checks = dcma.assess(clean_tasks(), clean_links(), status_date=STATUS,
                         critical_path_test=faithful_cpm)  # fmt: skip
    assert [c.number for c in checks] == list(range(1, 15))
    assert all(c.passed for c in checks), [(c.code, c.figure) for c in checks if not c.passed]
    by_code = {c.code: c for c in checks}
    assert by_code["relationship_types"].figure == 100.0
    assert by_code["cpli"].figure == pytest.approx(1.0)
    assert by_code["bei"].figure == pytest.approx(1.0)
    assert all(c.name and c.advice for c in checks)


def test_missing_logic_names_the_dangling_task() -> None:
    links = [k for k in clean_links() if (k.pred, k.succ) != ("C", "D")]
    checks = run(links=links)
    assert failing(checks) == {"logic"}
    assert checks["logic"].offending == ("C",)
    assert checks["logic"].figure == pytest.approx(25.0)  # one of four open tasks


def test_a_lead_fails_and_a_lag_beyond_five_percent_fails() -> None:
    lead = [replace(k, lag=-1) if (k.pred, k.succ) == ("A", "C") else k for k in clean_links()]
    assert failing(run(links=lead)) == {"leads"}
    assert run(links=lead)["leads"].offending == ("C",)
    lag = [replace(k, lag=2) if (k.pred, k.succ) == ("A", "C") else k for k in clean_links()]
    checks = run(links=lag)
    assert failing(checks) == {"lags"}
    assert checks["lags"].figure == pytest.approx(20.0) and checks["lags"].total == 5


def test_thresholds_are_configurable() -> None:
    lag = [replace(k, lag=2) if (k.pred, k.succ) == ("A", "C") else k for k in clean_links()]
    checks = run(links=lag, thresholds=dcma.Thresholds(lags_pct=25.0))
    assert checks["lags"].passed and checks["lags"].threshold == 25.0


def test_too_few_finish_to_start_links_fail() -> None:
    links = [replace(k, type="SS") if (k.pred, k.succ) == ("B", "D") else k for k in clean_links()]
    checks = run(links=links)
    assert failing(checks) == {"relationship_types"}
    assert checks["relationship_types"].figure == pytest.approx(80.0)
    assert checks["relationship_types"].offending == ("D",)


@pytest.mark.parametrize(
    ("task_id", "fields", "code"),
    [
        ("D", {"constraint": "MSO"}, "hard_constraints"),
        ("C", {"total_float": 50}, "high_float"),
        ("D", {"total_float": -3}, "negative_float"),
        ("B", {"duration": 50}, "high_duration"),
        ("C", {"actual_start": d(13)}, "invalid_dates"),
        ("C", {"early_start": d(10)}, "invalid_dates"),
        ("C", {"has_resources": False}, "resources"),
        ("A", {"actual_finish": d(9)}, "missed_tasks"),
    ],
)
def test_each_task_check_fails_on_its_own_fault(
    task_id: str, fields: dict[str, object], code: str
) -> None:
    checks = run(tasks=change(task_id, **fields))
    assert failing(checks) == {code}
    assert checks[code].offending == (task_id,)


def test_soft_constraints_are_not_hard() -> None:
    assert run(tasks=change("D", constraint="SNET"))["hard_constraints"].passed


def test_critical_path_test_uses_the_callers_scheduler() -> None:
    asked: list[tuple[str, float]] = []

    def broken_path(task_id: str, delay: float) -> float:
        asked.append((task_id, delay))
        return 0.0  # the finish did not move: the path is broken

    checks = run(critical_path_test=broken_path)
    assert failing(checks) == {"critical_path_test"}
    assert asked == [("B", 600.0)]  # the first critical open task, the DCMA's 600-day delay
    assert checks["critical_path_test"].offending == ("B",)


def test_critical_path_test_accepts_a_verdict_or_nothing() -> None:
    assert run(critical_path_test=True)["critical_path_test"].passed is True
    assert run(critical_path_test=False)["critical_path_test"].passed is False
    not_run = run(critical_path_test=None)["critical_path_test"]
    assert not_run.passed is None and not_run.figure is None


def test_a_late_forecast_finish_lowers_cpli() -> None:
    tasks = [replace(t, early_finish=d(31)) if t.id in ("D", "F") else t for t in clean_tasks()]
    checks = run(tasks=tasks)
    assert failing(checks) == {"cpli"}
    # 14 working days left to the forecast, 2 beyond the baseline finish: (14 − 2) / 14
    assert checks["cpli"].figure == pytest.approx(12 / 14)
    assert run(tasks=tasks, finish_target=d(31))["cpli"].passed


def test_unfinished_due_work_lowers_bei() -> None:
    tasks = change("A", actual_finish=None, early_finish=d(12), early_start=d(2))
    checks = run(tasks=tasks)
    assert checks["bei"].figure == pytest.approx(0.5) and checks["bei"].passed is False
    assert checks["bei"].offending == ("A",)
    assert checks["missed_tasks"].passed is False


def test_summary_tasks_are_ignored() -> None:
    summary = ScheduleTask("P2", "Phase 2", is_summary=True, duration=90, total_float=-5)
    assert not failing(run(tasks=[*clean_tasks(), summary]))


def test_nothing_due_yet_leaves_bei_not_assessed() -> None:
    early = dcma.assess(clean_tasks(), clean_links(), status_date=date(2026, 3, 1))
    bei = {c.code: c for c in early}["bei"]
    assert bei.figure is None and bei.passed is None


@pytest.fixture
def chinese() -> Iterator[None]:
    i18n.set_locale("zh_CN")
    yield
    i18n.set_locale("en")


@pytest.mark.usefixtures("chinese")
def test_check_names_are_translated() -> None:
    names = {c.code: c.name for c in dcma.assess(clean_tasks(), clean_links(), status_date=STATUS)}
    assert names["negative_float"] == "负浮动时间"
    assert names["bei"] == "基线执行指数（BEI）"
