"""Earned value management (EVM) and earned schedule (ES), without a database.

Entry points for the projects domain (all keyword-only):

- ``planned_curve(tasks=..., is_working_day=...) -> PlannedCurve``: each task's budget spread
  evenly over the working days between its baseline start and finish (a task with no working day
  in that range, such as a milestone, books its whole budget on the first working day on or
  after its baseline start); the cumulative planned value (PV) at the end of every working day.
- ``compute(tasks=..., actual_cost=..., status_date=..., ...) -> EvmFigures``: PV at the status
  date, EV = Σ budget × % complete, AC as given, then every figure of ``figures``.
- ``figures(bac=..., pv=..., ev=..., ac=..., ...) -> EvmFigures``: the formulas alone, for
  callers that already hold PV, EV and AC (and, for earned schedule, ES, AT and PD).
- ``earned_schedule(cumulative=..., ev=...) -> float``: Lipke's ES = C + (EV − PV_C) /
  (PV_C+1 − PV_C), in periods of the cumulative curve.
- ``s_curve(curve=..., status_date=..., earned=..., costs=..., period=...) -> list[SCurvePoint]``:
  PV, EV and AC per day, week or month, and cumulative, for charts.
- ``budget_status(figures..., rule=BudgetRule()) -> BudgetStatus``: the budget rule of the
  seed (预算偏差控制在±5%以内, "keep the budget variance within ±5%") as an alert.

Formulas (PMI, *Practice Standard for Earned Value Management*; Lipke, "Schedule is Different",
The Measurable News, 2003): CV = EV − AC, SV = EV − PV, CPI = EV / AC, SPI = EV / PV;
EAC = BAC / CPI, AC + (BAC − EV), AC + (BAC − EV) / (CPI × SPI), AC + bottom-up ETC;
ETC = EAC − AC; VAC = BAC − EAC; TCPI = (BAC − EV) / (BAC − AC) or (BAC − EV) / (EAC − AC);
SPI(t) = ES / AT, SV(t) = ES − AT, IEAC(t) = PD / SPI(t).

A ratio whose denominator is zero (no cost yet, nothing planned yet, nothing earned yet, budget
already spent) is ``None``, never an error nor an infinity. Time figures (ES, AT, PD, SV(t),
IEAC(t)) are in working days when they come from ``compute``.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt

from clientops.core.i18n import gettext as _

WorkingDay = Callable[[date], bool]
Period = Literal["day", "week", "month"]
BudgetState = Literal["within", "over", "under", "unknown"]


def weekdays(day: date) -> bool:
    """Monday to Friday: the calendar used when the caller gives none."""
    return day.weekday() < 5


@dataclass(frozen=True, slots=True)
class TaskBudget:
    """One task's budget, baseline dates and progress (percent complete, 0–100)."""

    budget: float
    baseline_start: date
    baseline_finish: date
    percent_complete: float = 0.0
    id: str = ""


@dataclass(frozen=True, slots=True)
class PlannedCurve:
    """Cumulative planned value at the end of each working day of the baseline."""

    days: tuple[date, ...]
    cumulative: tuple[float, ...]

    @property
    def total(self) -> float:
        """The whole planned value (the budget at completion of the tasks given)."""
        return self.cumulative[-1] if self.cumulative else 0.0

    @property
    def planned_duration(self) -> int:
        """PD: the number of working days from the first baseline start to the last finish."""
        return len(self.days)

    def at(self, on: date) -> float:
        """Cumulative PV at the end of ``on`` (0 before the start, the total after the end)."""
        index = bisect_right(self.days, on)
        return self.cumulative[index - 1] if index else 0.0


@dataclass(frozen=True, slots=True)
class BudgetRule:
    """Cost variance must stay within ±threshold (a fraction: 0.05 is ±5%).

    ``basis`` "cv" measures the variance to date, CV / EV; "vac" the forecast one, VAC / BAC.
    """

    threshold: float = 0.05
    basis: Literal["cv", "vac"] = "cv"


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """The budget rule's verdict: within, over or under budget beyond the threshold, unknown."""

    status: BudgetState
    variance: float | None
    threshold: float
    basis: str
    message: str

    @property
    def breached(self) -> bool:
        """True when the variance is outside ±threshold, either way."""
        return self.status in ("over", "under")


@dataclass(frozen=True, slots=True)
class EvmFigures:
    """Every earned value and earned schedule figure at one status date."""

    bac: float
    pv: float
    ev: float
    ac: float
    cv: float
    sv: float
    cv_pct: float | None
    sv_pct: float | None
    cpi: float | None
    spi: float | None
    eac_cpi: float | None
    eac_atypical: float
    eac_cpi_spi: float | None
    eac_bottom_up: float | None
    eac: float | None
    etc: float | None
    vac: float | None
    tcpi_bac: float | None
    tcpi_eac: float | None
    percent_complete: float | None
    percent_spent: float | None
    es: float | None
    at: float | None
    planned_duration: float | None
    spi_t: float | None
    sv_t: float | None
    ieac_t: float | None
    budget: BudgetStatus


@dataclass(frozen=True, slots=True)
class SCurvePoint:
    """PV, EV and AC in one period and cumulative; EV and AC are None after the status date."""

    period_end: date
    pv: float
    ev: float | None
    ac: float | None
    pv_cum: float
    ev_cum: float | None
    ac_cum: float | None


def _ratio(numerator: float, denominator: float | None) -> float | None:
    """numerator / denominator, or None when the denominator is missing or zero."""
    if denominator is None or abs(denominator) < 1e-12:
        return None
    return numerator / denominator


def working_days(start: date, finish: date, *, is_working_day: WorkingDay = weekdays) -> list[date]:
    """The working days from ``start`` to ``finish``, both included."""
    count = (finish - start).days + 1
    days = (start + timedelta(days=offset) for offset in range(max(count, 0)))
    return [day for day in days if is_working_day(day)]


def _next_working_day(day: date, is_working_day: WorkingDay) -> date:
    """``day`` itself when it is a working day, else the next one (searching up to a year)."""
    for offset in range(366):
        candidate = day + timedelta(days=offset)
        if is_working_day(candidate):
            return candidate
    raise ValueError("the calendar has no working day within a year of " + day.isoformat())


def _span(tasks: Sequence[TaskBudget], is_working_day: WorkingDay) -> npt.NDArray[np.int64]:
    """Ordinals of the working days that can carry any task's planned value."""
    first = _next_working_day(min(t.baseline_start for t in tasks), is_working_day)
    latest_start = _next_working_day(max(t.baseline_start for t in tasks), is_working_day)
    last = max(latest_start, max(t.baseline_finish for t in tasks))
    days = working_days(first, last, is_working_day=is_working_day)
    return np.fromiter((d.toordinal() for d in days), dtype=np.int64, count=len(days))


def _daily(
    tasks: Sequence[TaskBudget], span: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], int, int]:
    """Planned value per working day of ``span``, and the first and last day any task touches."""
    starts = np.array([t.baseline_start.toordinal() for t in tasks], dtype=np.int64)
    finishes = np.array([t.baseline_finish.toordinal() for t in tasks], dtype=np.int64)
    budgets = np.array([t.budget for t in tasks], dtype=np.float64)
    first = np.searchsorted(span, starts, side="left")
    last = np.searchsorted(span, finishes, side="right") - 1
    # No working day in its range (a milestone): the whole budget on the next working day.
    last = np.maximum(last, first)
    rate = budgets / (last - first + 1)
    change = np.zeros(len(span) + 1)
    np.add.at(change, first, rate)
    np.add.at(change, last + 1, -rate)
    return np.cumsum(change)[:-1], int(first.min()), int(last.max())


def planned_curve(
    *, tasks: Sequence[TaskBudget], is_working_day: WorkingDay = weekdays
) -> PlannedCurve:
    """The time-phased planned value: budgets spread linearly over working days."""
    if not tasks:
        return PlannedCurve(days=(), cumulative=())
    span = _span(tasks, is_working_day)
    daily, first, last = _daily(tasks, span)
    cumulative = np.cumsum(daily[first : last + 1])
    days = tuple(date.fromordinal(int(o)) for o in span[first : last + 1])
    return PlannedCurve(days=days, cumulative=tuple(float(v) for v in cumulative))


def earned_value(tasks: Sequence[TaskBudget]) -> float:
    """EV = Σ budget × percent complete (clamped to 0–100)."""
    return sum(t.budget * min(max(t.percent_complete, 0.0), 100.0) / 100.0 for t in tasks)


def earned_schedule(*, cumulative: Sequence[float], ev: float) -> float:
    """Lipke's ES in periods: whole periods whose cumulative PV ≤ EV plus the interpolated part.

    ``cumulative[k]`` is the planned value at the end of period k + 1 (non-decreasing). Once EV
    reaches the total, ES is the period in which the plan reached it (the planned duration).
    """
    points = [0.0, *cumulative]
    if ev >= points[-1]:
        return float(bisect_left(points, points[-1]))
    whole = bisect_right(points, max(ev, 0.0)) - 1
    step = points[whole + 1] - points[whole]
    return whole + (max(ev, 0.0) - points[whole]) / step


def elapsed_working_days(
    *, start: date, status_date: date, is_working_day: WorkingDay = weekdays
) -> int:
    """AT: working days from ``start`` through the status date (0 before the start)."""
    if status_date < start:
        return 0
    return len(working_days(start, status_date, is_working_day=is_working_day))


def budget_status(
    *, cv: float, ev: float, vac: float | None, bac: float, rule: BudgetRule | None = None
) -> BudgetStatus:
    """The budget rule: is the cost variance within ±threshold?"""
    rule = rule or BudgetRule()
    variance = _ratio(cv, ev) if rule.basis == "cv" else _ratio(vac or 0.0, bac)
    if rule.basis == "vac" and vac is None:
        variance = None
    state: BudgetState
    if variance is None:
        state = "unknown"
    elif variance < -rule.threshold - 1e-12:
        state = "over"
    elif variance > rule.threshold + 1e-12:
        state = "under"
    else:
        state = "within"
    message = _budget_message(state, variance, rule)
    return BudgetStatus(state, variance, rule.threshold, rule.basis, message)


def _budget_message(state: BudgetState, variance: float | None, rule: BudgetRule) -> str:
    """One translated sentence for the budget rule's verdict."""
    limit = f"±{rule.threshold * 100:g}%"
    if variance is None:
        return _("No cost variance yet: nothing has been earned.")
    values = {"variance": f"{variance * 100:+.1f}%", "limit": limit}
    if state == "over":
        return _("Over budget: cost variance %(variance)s is outside %(limit)s.") % values
    if state == "under":
        return _("Under budget: cost variance %(variance)s is outside %(limit)s.") % values
    return _("Within budget: cost variance %(variance)s is inside %(limit)s.") % values


def _eacs(
    *, bac: float, ev: float, ac: float, cpi: float | None, spi: float | None, etc: float | None
) -> tuple[float | None, float, float | None, float | None]:
    """The standard EAC variants: BAC/CPI, AC + (BAC − EV), with CPI × SPI, bottom-up."""
    eac_cpi = _ratio(bac, cpi)
    eac_atypical = ac + (bac - ev)
    both = cpi * spi if cpi is not None and spi is not None else None
    eac_cpi_spi = None if (work := _ratio(bac - ev, both)) is None else ac + work
    eac_bottom_up = None if etc is None else ac + etc
    return eac_cpi, eac_atypical, eac_cpi_spi, eac_bottom_up


def _positive(value: float | None) -> float | None:
    """The value when it is above zero, else None (a denominator that makes no sense)."""
    return value if value is not None and value > 1e-12 else None


def figures(
    *,
    bac: float,
    pv: float,
    ev: float,
    ac: float,
    es: float | None = None,
    at: float | None = None,
    planned_duration: float | None = None,
    bottom_up_etc: float | None = None,
    budget_rule: BudgetRule | None = None,
) -> EvmFigures:
    """Every EVM figure from BAC, PV, EV and AC (plus ES, AT and PD for earned schedule).

    The headline EAC is the bottom-up one when an estimate to complete is given, else BAC / CPI.
    """
    cpi, spi = _ratio(ev, ac), _ratio(ev, pv)
    eac_cpi, eac_atypical, eac_cpi_spi, eac_bottom_up = _eacs(
        bac=bac, ev=ev, ac=ac, cpi=cpi, spi=spi, etc=bottom_up_etc
    )
    eac = eac_bottom_up if eac_bottom_up is not None else eac_cpi
    vac = None if eac is None else bac - eac
    spi_t = None if es is None else _ratio(es, at)
    return EvmFigures(
        bac=bac,
        pv=pv,
        ev=ev,
        ac=ac,
        cv=ev - ac,
        sv=ev - pv,
        cv_pct=_ratio(ev - ac, ev),
        sv_pct=_ratio(ev - pv, pv),
        cpi=cpi,
        spi=spi,
        eac_cpi=eac_cpi,
        eac_atypical=eac_atypical,
        eac_cpi_spi=eac_cpi_spi,
        eac_bottom_up=eac_bottom_up,
        eac=eac,
        etc=None if eac is None else eac - ac,
        vac=vac,
        tcpi_bac=_ratio(bac - ev, _positive(bac - ac)),
        tcpi_eac=_ratio(bac - ev, _positive(None if eac is None else eac - ac)),
        percent_complete=_ratio(ev, bac),
        percent_spent=_ratio(ac, bac),
        es=es,
        at=at,
        planned_duration=planned_duration,
        spi_t=spi_t,
        sv_t=None if es is None or at is None else es - at,
        ieac_t=None if planned_duration is None else _ratio(planned_duration, spi_t),
        budget=budget_status(cv=ev - ac, ev=ev, vac=vac, bac=bac, rule=budget_rule),
    )


def compute(
    *,
    tasks: Sequence[TaskBudget],
    actual_cost: float,
    status_date: date,
    bac: float | None = None,
    bottom_up_etc: float | None = None,
    is_working_day: WorkingDay = weekdays,
    budget_rule: BudgetRule | None = None,
) -> EvmFigures:
    """EVM and earned schedule of the tasks at the status date (BAC defaults to Σ budget)."""
    curve = planned_curve(tasks=tasks, is_working_day=is_working_day)
    ev = earned_value(tasks)
    start = curve.days[0] if curve.days else status_date
    at = elapsed_working_days(start=start, status_date=status_date, is_working_day=is_working_day)
    return figures(
        bac=curve.total if bac is None else bac,
        pv=curve.at(status_date),
        ev=ev,
        ac=actual_cost,
        es=earned_schedule(cumulative=curve.cumulative, ev=ev) if curve.days else None,
        at=float(at),
        planned_duration=float(curve.planned_duration) if curve.days else None,
        bottom_up_etc=bottom_up_etc,
        budget_rule=budget_rule,
    )


def _period_end(day: date, period: Period) -> date:
    """The last day of the day, week (Monday to Sunday) or month holding ``day``."""
    if period == "day":
        return day
    if period == "week":
        return day + timedelta(days=6 - day.weekday())
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _period_ends(start: date, finish: date, period: Period) -> list[date]:
    """Consecutive period ends covering ``start`` to ``finish``."""
    ends = [_period_end(start, period)]
    while ends[-1] < finish:
        ends.append(_period_end(ends[-1] + timedelta(days=1), period))
    return ends


def _as_of(points: Sequence[tuple[date, float]], on: date) -> float:
    """The latest cumulative value recorded on or before ``on`` (0 before the first)."""
    latest = 0.0
    for day, value in sorted(points):
        if day > on:
            break
        latest = value
    return latest


def s_curve(
    *,
    curve: PlannedCurve,
    status_date: date,
    earned: Sequence[tuple[date, float]] = (),
    costs: Sequence[tuple[date, float]] = (),
    period: Period = "week",
) -> list[SCurvePoint]:
    """PV, EV and AC per period and cumulative, from the baseline start to its end or today.

    ``earned`` holds cumulative EV snapshots (date, EV to date); ``costs`` holds actual costs as
    they were booked (date, amount). EV and AC stop at the status date.
    """
    if not curve.days:
        return []
    finish = max(curve.days[-1], status_date)
    points: list[SCurvePoint] = []
    begin = curve.days[0]
    for end in _period_ends(curve.days[0], finish, period):
        before = points[-1] if points else None
        points.append(_s_point(curve, begin, end, status_date, earned, costs, before))
        begin = end + timedelta(days=1)
    return points


def _s_point(
    curve: PlannedCurve,
    begin: date,
    end: date,
    status_date: date,
    earned: Sequence[tuple[date, float]],
    costs: Sequence[tuple[date, float]],
    before: SCurvePoint | None,
) -> SCurvePoint:
    """One period of the S-curve; its own amounts are the growth since the period before."""
    pv_cum = curve.at(end)
    seen = min(end, status_date)
    started = begin <= status_date
    ev_cum = float(_as_of(earned, seen)) if started else None
    ac_cum = float(sum(amount for day, amount in costs if day <= seen)) if started else None
    return SCurvePoint(
        period_end=end,
        pv=pv_cum - (before.pv_cum if before else 0.0),
        ev=None if ev_cum is None else ev_cum - ((before and before.ev_cum) or 0.0),
        ac=None if ac_cum is None else ac_cum - ((before and before.ac_cum) or 0.0),
        pv_cum=pv_cum,
        ev_cum=ev_cum,
        ac_cum=ac_cum,
    )
