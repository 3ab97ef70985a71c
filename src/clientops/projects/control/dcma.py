"""The DCMA 14-point schedule assessment, without a database.

``assess(tasks, links, *, status_date, thresholds=None, critical_path_test=None,
finish_target=None, is_working_day=weekdays) -> list[DcmaCheck]`` runs the fourteen checks of
the US Defense Contract Management Agency's schedule assessment on a scheduled plan and returns
one ``DcmaCheck`` per check, in order: its number and code, translated name and advice, the
figure, the threshold, pass or fail, how many tasks (or links) offend out of how many, and the
offending task ids.

The caller schedules first (the critical path method fills early/late dates and total float, in
working days) and passes plain records: ``ScheduleTask`` and ``ScheduleLink``. Summary tasks are
ignored throughout. A task is complete when it has an actual finish; checks 1–8 and 10 look at
incomplete tasks (and the links into them), as the DCMA does.

Check 12, the critical path test, delays one critical task and checks that the project finish
moves by the same amount. This module does not schedule, so the caller provides it:

- a callable ``critical_path_test(task_id, delay_days) -> slip_days | None`` that re-runs the
  critical path method with the remaining duration of ``task_id`` extended by ``delay_days``
  working days and returns by how many working days the project finish moved (None if it could
  not run). The check passes when the slip equals the delay (within half a day);
- or a ``bool`` when the caller ran the test itself;
- or ``None``: the check is reported as not assessed (``passed`` is None).

Thresholds follow the DCMA's published defaults and can be changed with ``Thresholds``.
Percentages are figures out of 100 (3.2 means 3.2 %).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Literal

from clientops.core.i18n import gettext as _
from clientops.projects.control.evm import WorkingDay, weekdays, working_days

LinkType = Literal["FS", "SS", "FF", "SF"]
Comparison = Literal["<=", ">="]
Unit = Literal["percent", "count", "ratio", "test"]
CriticalPathTest = Callable[[str, float], float | None]

HARD_CONSTRAINTS = frozenset({"MSO", "MFO", "SNLT", "FNLT"})


@dataclass(frozen=True, slots=True)
class ScheduleTask:
    """One scheduled task: durations and floats in working days, dates as calendar days."""

    id: str
    name: str = ""
    is_summary: bool = False
    is_milestone: bool = False
    duration: float = 0.0
    baseline_start: date | None = None
    baseline_finish: date | None = None
    actual_start: date | None = None
    actual_finish: date | None = None
    early_start: date | None = None
    early_finish: date | None = None
    late_start: date | None = None
    late_finish: date | None = None
    total_float: float | None = None
    constraint: str = "ASAP"
    has_resources: bool = False
    remaining_duration: float | None = None

    @property
    def complete(self) -> bool:
        """True once the task has an actual finish."""
        return self.actual_finish is not None


@dataclass(frozen=True, slots=True)
class ScheduleLink:
    """A dependency: predecessor, successor, type (FS, SS, FF, SF) and lag in working days."""

    pred: str
    succ: str
    type: LinkType = "FS"
    lag: float = 0.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Pass limits of the fourteen checks (DCMA defaults)."""

    logic_pct: float = 5.0
    leads: int = 0
    lags_pct: float = 5.0
    fs_pct: float = 90.0
    hard_constraints_pct: float = 5.0
    high_float_days: float = 44.0
    high_float_pct: float = 5.0
    negative_float: int = 0
    high_duration_days: float = 44.0
    high_duration_pct: float = 5.0
    invalid_dates: int = 0
    no_resources: int = 0
    missed_pct: float = 5.0
    cpt_delay_days: float = 600.0
    cpli: float = 0.95
    bei: float = 0.95


@dataclass(frozen=True, slots=True)
class DcmaCheck:
    """One check's result; ``passed`` is None when the check could not be assessed."""

    number: int
    code: str
    name: str
    advice: str
    figure: float | None
    threshold: float
    comparison: Comparison
    unit: Unit
    passed: bool | None
    count: int
    total: int
    offending: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What every check reads: the plan without summaries, its open part, the status date."""

    tasks: tuple[ScheduleTask, ...]
    open: tuple[ScheduleTask, ...]
    links: tuple[ScheduleLink, ...]
    all_links: tuple[ScheduleLink, ...]
    status_date: date
    limits: Thresholds
    is_working_day: WorkingDay


def _plan(
    tasks: Sequence[ScheduleTask],
    links: Sequence[ScheduleLink],
    status_date: date,
    limits: Thresholds,
    is_working_day: WorkingDay,
) -> _Plan:
    """Drop summaries; keep the links between real tasks whose successor is still open."""
    real = tuple(t for t in tasks if not t.is_summary)
    open_ = tuple(t for t in real if not t.complete)
    known, open_ids = {t.id for t in real}, {t.id for t in open_}
    among = tuple(k for k in links if k.pred in known and k.succ in known)
    kept = tuple(k for k in among if k.succ in open_ids)
    return _Plan(real, open_, kept, among, status_date, limits, is_working_day)


def _percent(count: int, total: int) -> float:
    """count as a percentage of total (0 when there is nothing to count)."""
    return 100.0 * count / total if total else 0.0


def _ids(items: Sequence[ScheduleTask]) -> tuple[str, ...]:
    """Task ids in plan order."""
    return tuple(t.id for t in items)


def _share_check(
    number: int,
    code: str,
    names: tuple[str, str],
    offending: Sequence[str],
    total: int,
    limit: float,
    comparison: Comparison = "<=",
) -> DcmaCheck:
    """A check whose figure is the share (%) of offending items out of ``total``."""
    unique = tuple(dict.fromkeys(offending))
    figure = _percent(len(offending), total)
    passed = figure <= limit + 1e-9 if comparison == "<=" else figure >= limit - 1e-9
    return DcmaCheck(
        number,
        code,
        names[0],
        names[1],
        figure,
        limit,
        comparison,
        "percent",
        passed,
        len(offending),
        total,
        unique,
    )


def _count_check(
    number: int, code: str, names: tuple[str, str], offending: Sequence[str], total: int, limit: int
) -> DcmaCheck:
    """A check whose figure is the number of offending items (at most ``limit``)."""
    unique = tuple(dict.fromkeys(offending))
    passed = len(offending) <= limit
    return DcmaCheck(
        number,
        code,
        names[0],
        names[1],
        float(len(offending)),
        float(limit),
        "<=",
        "count",
        passed,
        len(offending),
        total,
        unique,
    )


def _endpoints(plan: _Plan) -> tuple[str | None, str | None]:
    """The start milestone (earliest, no predecessor) and the finish one (latest, no successor)."""
    has_pred = {k.succ for k in plan.all_links}
    has_succ = {k.pred for k in plan.all_links}
    starts = [t for t in plan.open if t.is_milestone and t.id not in has_pred]
    finishes = [t for t in plan.open if t.is_milestone and t.id not in has_succ]
    start = min(starts, key=lambda t: t.early_start or date.max, default=None)
    finish = max(finishes, key=lambda t: t.early_finish or date.min, default=None)
    return (start.id if start else None), (finish.id if finish else None)


def check_logic(plan: _Plan) -> DcmaCheck:
    """1. Open tasks missing a predecessor or a successor (start and finish milestones exempt)."""
    has_pred = {k.succ for k in plan.all_links}
    has_succ = {k.pred for k in plan.all_links}
    start, finish = _endpoints(plan)
    no_pred = [t.id for t in plan.open if t.id not in has_pred and t.id != start]
    no_succ = [t.id for t in plan.open if t.id not in has_succ and t.id != finish]
    dangling = {*no_pred, *no_succ}
    missing = [t.id for t in plan.open if t.id in dangling]
    names = (
        _("Logic"),
        _("Give every open task at least one predecessor and one successor."),
    )
    return _share_check(1, "logic", names, missing, len(plan.open), plan.limits.logic_pct)


def check_leads(plan: _Plan) -> DcmaCheck:
    """2. Links with a negative lag (a lead)."""
    leads = [k.succ for k in plan.links if k.lag < 0]
    names = (_("Leads"), _("Replace negative lags with real tasks or split the predecessor."))
    return _count_check(2, "leads", names, leads, len(plan.links), plan.limits.leads)


def check_lags(plan: _Plan) -> DcmaCheck:
    """3. Links with a positive lag."""
    lags = [k.succ for k in plan.links if k.lag > 0]
    names = (_("Lags"), _("Model waiting time as a task or a calendar instead of a lag."))
    return _share_check(3, "lags", names, lags, len(plan.links), plan.limits.lags_pct)


def check_relationship_types(plan: _Plan) -> DcmaCheck:
    """4. Share of finish-to-start links (the others are listed)."""
    others = [k.succ for k in plan.links if k.type != "FS"]
    total = len(plan.links)
    names = (
        _("Relationship types"),
        _("Prefer finish-to-start links; use start-to-start and finish-to-finish sparingly."),
    )
    check = _share_check(4, "relationship_types", names, others, total, plan.limits.fs_pct)
    figure = 100.0 - _percent(len(others), total) if total else 100.0
    passed = figure >= plan.limits.fs_pct - 1e-9
    return replace(check, figure=figure, comparison=">=", passed=passed)


def check_hard_constraints(plan: _Plan) -> DcmaCheck:
    """5. Open tasks with a hard date constraint (must start/finish on, start/finish no later)."""
    hard = [t.id for t in plan.open if t.constraint.upper() in HARD_CONSTRAINTS]
    names = (
        _("Hard constraints"),
        _("Let logic drive dates: replace hard constraints with links or deadlines."),
    )
    total = len(plan.open)
    return _share_check(5, "hard_constraints", names, hard, total, plan.limits.hard_constraints_pct)


def check_high_float(plan: _Plan) -> DcmaCheck:
    """6. Open tasks with total float above the limit (44 working days)."""
    limit = plan.limits.high_float_days
    high = [t.id for t in plan.open if t.total_float is not None and t.total_float > limit]
    names = (
        _("High float"),
        _("Large float usually means a missing successor: check the logic of these tasks."),
    )
    return _share_check(6, "high_float", names, high, len(plan.open), plan.limits.high_float_pct)


def check_negative_float(plan: _Plan) -> DcmaCheck:
    """7. Open tasks with negative total float."""
    negative = [t.id for t in plan.open if t.total_float is not None and t.total_float < 0]
    names = (
        _("Negative float"),
        _("The plan cannot meet a constraint or deadline: recover time or move the date."),
    )
    limit = plan.limits.negative_float
    return _count_check(7, "negative_float", names, negative, len(plan.open), limit)


def check_high_duration(plan: _Plan) -> DcmaCheck:
    """8. Open tasks (not milestones) longer than the limit (44 working days)."""
    work = [t for t in plan.open if not t.is_milestone]
    long = [t.id for t in work if t.duration > plan.limits.high_duration_days]
    names = (
        _("High duration"),
        _("Break long tasks into shorter ones that can be measured."),
    )
    return _share_check(8, "high_duration", names, long, len(work), plan.limits.high_duration_pct)


def _invalid(task: ScheduleTask, status_date: date) -> bool:
    """Actuals in the future, or forecasts in the past for work not yet done."""
    future_actual = any(
        d is not None and d > status_date for d in (task.actual_start, task.actual_finish)
    )
    stale_start = task.actual_start is None and task.early_start is not None
    stale_finish = task.actual_finish is None and task.early_finish is not None
    past_start = stale_start and task.early_start is not None and task.early_start < status_date
    past_finish = stale_finish and task.early_finish is not None and task.early_finish < status_date
    return future_actual or past_start or past_finish


def check_invalid_dates(plan: _Plan) -> DcmaCheck:
    """9. Actual dates after the status date, or forecast dates before it."""
    invalid = [t.id for t in plan.tasks if _invalid(t, plan.status_date)]
    names = (
        _("Invalid dates"),
        _("Record actuals up to the status date only and re-plan unfinished work after it."),
    )
    limit = plan.limits.invalid_dates
    return _count_check(9, "invalid_dates", names, invalid, len(plan.tasks), limit)


def check_resources(plan: _Plan) -> DcmaCheck:
    """10. Open tasks with work (not milestones) that have no resource assigned."""
    work = [t for t in plan.open if not t.is_milestone and t.duration > 0]
    bare = [t.id for t in work if not t.has_resources]
    names = (_("Resources"), _("Assign a person or team to every task that has work."))
    return _count_check(10, "resources", names, bare, len(work), plan.limits.no_resources)


def _missed(task: ScheduleTask) -> bool:
    """Due by its baseline finish but finished later, or not finished at all."""
    if task.baseline_finish is None:
        return False
    return task.actual_finish is None or task.actual_finish > task.baseline_finish


def _due(plan: _Plan) -> list[ScheduleTask]:
    """Tasks whose baseline finish is on or before the status date."""
    return [
        t
        for t in plan.tasks
        if t.baseline_finish is not None and t.baseline_finish <= plan.status_date
    ]


def check_missed_tasks(plan: _Plan) -> DcmaCheck:
    """11. Tasks due by the status date that finished late or are not finished."""
    due = _due(plan)
    missed = [t.id for t in due if _missed(t)]
    names = (
        _("Missed tasks"),
        _("Find why these tasks slipped and protect the remaining plan from the same cause."),
    )
    return _share_check(11, "missed_tasks", names, missed, len(due), plan.limits.missed_pct)


def _critical_task(plan: _Plan) -> ScheduleTask | None:
    """The first open task with the least total float: where the test adds its delay."""
    floated = [t for t in plan.open if t.total_float is not None]
    if not floated:
        return None
    least = min(t.total_float or 0.0 for t in floated)
    critical = [t for t in floated if (t.total_float or 0.0) <= least + 1e-9]
    return min(critical, key=lambda t: t.early_start or date.max)


def check_critical_path(plan: _Plan, test: CriticalPathTest | bool | None) -> DcmaCheck:
    """12. Delaying a critical task must delay the project finish by as much."""
    names = (
        _("Critical path test"),
        _("Repair broken logic along the critical path: a delay on it must move the finish."),
    )
    delay = plan.limits.cpt_delay_days
    task = _critical_task(plan)
    passed: bool | None
    if isinstance(test, bool) or test is None:
        passed = test
    else:
        slip = test(task.id, delay) if task else None
        passed = None if slip is None else abs(slip - delay) <= 0.5
    offending = (task.id,) if task and passed is False else ()
    figure = None if passed is None else float(passed)
    return DcmaCheck(
        12,
        "critical_path_test",
        names[0],
        names[1],
        figure,
        1.0,
        ">=",
        "test",
        passed,
        len(offending),
        1 if task else 0,
        offending,
    )


def _signed_working_days(start: date, end: date, is_working_day: WorkingDay) -> int:
    """Working days after ``start`` up to ``end``; negative when ``end`` comes first."""
    if end >= start:
        return len(working_days(start + timedelta(days=1), end, is_working_day=is_working_day))
    return -len(working_days(end + timedelta(days=1), start, is_working_day=is_working_day))


def _forecast_finish(plan: _Plan) -> date | None:
    """The project's forecast finish: the latest early (or actual) finish."""
    finishes = [t.actual_finish or t.early_finish for t in plan.tasks]
    known = [d for d in finishes if d is not None]
    return max(known) if known else None


def check_cpli(plan: _Plan, finish_target: date | None) -> DcmaCheck:
    """13. CPLI = (critical path length + project float) / critical path length."""
    names = (
        _("Critical path length index (CPLI)"),
        _("The finish is at risk: shorten the critical path or agree a new finish date."),
    )
    targets = [t.baseline_finish for t in plan.tasks if t.baseline_finish is not None]
    target = finish_target or (max(targets) if targets else None)
    forecast = _forecast_finish(plan)
    figure: float | None = None
    if target is not None and forecast is not None:
        length = _signed_working_days(plan.status_date, forecast, plan.is_working_day)
        slack = _signed_working_days(forecast, target, plan.is_working_day)
        figure = (length + slack) / length if length > 0 else None
    passed = None if figure is None else figure >= plan.limits.cpli - 1e-9
    return DcmaCheck(13, "cpli", *names, figure, plan.limits.cpli, ">=", "ratio", passed, 0, 0)


def check_bei(plan: _Plan) -> DcmaCheck:
    """14. BEI = tasks finished by the status date / tasks due by it per the baseline."""
    names = (
        _("Baseline execution index (BEI)"),
        _("Fewer tasks finish than the baseline planned: catch up or re-baseline."),
    )
    due = _due(plan)
    done = [
        t for t in plan.tasks if t.actual_finish is not None and t.actual_finish <= plan.status_date
    ]
    figure = len(done) / len(due) if due else None
    passed = None if figure is None else figure >= plan.limits.bei - 1e-9
    late = tuple(t.id for t in due if t.actual_finish is None)
    return DcmaCheck(
        14, "bei", *names, figure, plan.limits.bei, ">=", "ratio", passed, len(late), len(due), late
    )


def assess(
    tasks: Sequence[ScheduleTask],
    links: Sequence[ScheduleLink],
    *,
    status_date: date,
    thresholds: Thresholds | None = None,
    critical_path_test: CriticalPathTest | bool | None = None,
    finish_target: date | None = None,
    is_working_day: WorkingDay = weekdays,
) -> list[DcmaCheck]:
    """The fourteen DCMA checks of a scheduled plan at the status date, in order."""
    plan = _plan(tasks, links, status_date, thresholds or Thresholds(), is_working_day)
    return [
        check_logic(plan),
        check_leads(plan),
        check_lags(plan),
        check_relationship_types(plan),
        check_hard_constraints(plan),
        check_high_float(plan),
        check_negative_float(plan),
        check_high_duration(plan),
        check_invalid_dates(plan),
        check_resources(plan),
        check_missed_tasks(plan),
        check_critical_path(plan, critical_path_test),
        check_cpli(plan, finish_target),
        check_bei(plan),
    ]
