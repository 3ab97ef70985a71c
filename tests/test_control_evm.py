"""Earned value and earned schedule: published examples, edge cases and properties."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clientops.projects.control import evm

pytestmark = pytest.mark.nodb  # touches no database: runs once, in the SQLite pass

# The "toy project" of the PRA package's Earned Value Management vignette (Govan, CRAN; after
# Damnjanovic & Reinschmidt, *Data analytics for engineering and construction project risk
# management*, Springer 2020): BAC 100,000; cumulative planned share 10%, 20%, 40%, 70%, 100% by
# period; at period 3 the work is 35% complete and the actual cost to date is 36,000 (the
# vignette's cumulative costs 9,000, 18,000, 36,000). Its printed results: PV 40000, EV 35000,
# AC 36000, SV -5000, CV -1000, SPI 0.88, CPI 0.97, EAC 102857.1.
PRA_BAC = 100_000.0
PRA_PLAN = [0.1, 0.2, 0.4, 0.7, 1.0]


def test_reproduces_the_pra_vignette_figures() -> None:
    pv = PRA_BAC * PRA_PLAN[2]
    ev = PRA_BAC * 0.35
    f = evm.figures(bac=PRA_BAC, pv=pv, ev=ev, ac=36_000.0)
    assert (f.pv, f.ev, f.ac) == (40_000, 35_000, 36_000)
    assert (f.sv, f.cv) == (-5_000, -1_000)
    assert round(f.spi or 0, 2) == 0.88
    assert round(f.cpi or 0, 2) == 0.97
    assert round(f.eac_cpi or 0, 1) == 102_857.1
    assert f.eac == f.eac_cpi  # BAC / CPI is the headline EAC without a bottom-up estimate


def test_reproduces_the_pra_reference_examples_for_eac_and_tcpi() -> None:
    # PRA reference pages eac() and tcpi(): EV 35,000, AC 63,000 on BAC 100,000.
    f = evm.figures(bac=PRA_BAC, pv=40_000.0, ev=35_000.0, ac=63_000.0)
    assert f.eac_atypical == 128_000  # "EAC (atypical): 128000"
    assert round(f.tcpi_bac or 0, 2) == 1.76  # "TCPI (to meet BAC): 1.76"
    # With the vignette's rounded CPI 0.83: "EAC (typical): 120481.9", "TCPI (to meet EAC): 1.13"
    assert round(PRA_BAC / 0.83, 1) == 120_481.9
    eac_given = evm.figures(
        bac=PRA_BAC, pv=40_000.0, ev=35_000.0, ac=63_000.0, bottom_up_etc=120_482.0 - 63_000.0
    )
    assert round(eac_given.tcpi_eac or 0, 2) == 1.13


def test_every_standard_formula_on_a_hand_checked_status() -> None:
    # BAC 1,000, PV 500, EV 400, AC 500: CPI 0.8, SPI 0.8.
    f = evm.figures(bac=1_000.0, pv=500.0, ev=400.0, ac=500.0, bottom_up_etc=700.0)
    assert f.cpi == pytest.approx(0.8) and f.spi == pytest.approx(0.8)
    assert f.eac_cpi == pytest.approx(1_250.0)  # 1000 / 0.8
    assert f.eac_atypical == pytest.approx(1_100.0)  # 500 + (1000 − 400)
    assert f.eac_cpi_spi == pytest.approx(1_437.5)  # 500 + 600 / 0.64
    assert f.eac_bottom_up == pytest.approx(1_200.0)  # 500 + 700
    assert f.eac == f.eac_bottom_up and f.etc == pytest.approx(700.0)
    assert f.vac == pytest.approx(-200.0)
    assert f.tcpi_bac == pytest.approx(600 / 500)
    assert f.tcpi_eac == pytest.approx(600 / 700)
    assert f.cv_pct == pytest.approx(-0.25) and f.sv_pct == pytest.approx(-0.2)


def test_earned_schedule_on_the_pra_curve() -> None:
    # ES = C + (EV − PV_C) / (PV_C+1 − PV_C) (Lipke 2003): EV 35,000 lies between the
    # cumulative PV of period 2 (20,000) and period 3 (40,000), so ES = 2 + 15/20 = 2.75.
    cumulative = [PRA_BAC * share for share in PRA_PLAN]
    es = evm.earned_schedule(cumulative=cumulative, ev=35_000.0)
    assert es == pytest.approx(2.75)
    f = evm.figures(
        bac=PRA_BAC, pv=40_000.0, ev=35_000.0, ac=36_000.0, es=es, at=3.0, planned_duration=5.0
    )
    assert f.spi_t == pytest.approx(2.75 / 3)
    assert f.sv_t == pytest.approx(-0.25)
    assert f.ieac_t == pytest.approx(5 / (2.75 / 3))  # about 5.45 periods instead of 5


def test_earned_schedule_of_lipkes_figure() -> None:
    # Lipke's illustration: at the end of July (AT = 7) all PV through May is earned and part of
    # June, so ES = 5 + (EV − PV(May)) / (PV(June) − PV(May)). Monthly PV of an 11-month plan:
    monthly = [50, 80, 120, 150, 150, 150, 150, 120, 80, 50, 30]
    cumulative = [float(sum(monthly[: i + 1])) for i in range(len(monthly))]
    may, june = cumulative[4], cumulative[5]
    ev = may + 0.4 * (june - may)
    es = evm.earned_schedule(cumulative=cumulative, ev=ev)
    assert es == pytest.approx(5.4)
    f = evm.figures(
        bac=cumulative[-1], pv=cumulative[6], ev=ev, ac=ev, es=es, at=7.0, planned_duration=11.0
    )
    assert f.sv_t == pytest.approx(-1.6)  # 1.6 months behind, said in time, not money
    assert f.spi_t == pytest.approx(5.4 / 7)


# --- the planned value curve from tasks and a calendar ---

MON = date(2026, 3, 2)


def test_budget_is_spread_evenly_over_working_days_only() -> None:
    # 1,000 over Mon 2 – Fri 13 March: ten working days, 100 a day, nothing on the weekend.
    task = evm.TaskBudget(1_000.0, MON, MON + timedelta(days=11))
    curve = evm.planned_curve(tasks=[task])
    assert curve.planned_duration == 10
    assert curve.at(MON) == pytest.approx(100.0)
    assert curve.at(MON + timedelta(days=4)) == pytest.approx(500.0)  # Friday
    assert curve.at(MON + timedelta(days=6)) == pytest.approx(500.0)  # Sunday: no work
    assert curve.at(MON - timedelta(days=1)) == 0.0
    assert curve.at(MON + timedelta(days=30)) == pytest.approx(1_000.0)


def test_holidays_of_the_calendar_carry_no_planned_value() -> None:
    holiday = MON + timedelta(days=2)  # Wednesday off

    def working(day: date) -> bool:
        return evm.weekdays(day) and day != holiday

    task = evm.TaskBudget(400.0, MON, MON + timedelta(days=4))
    curve = evm.planned_curve(tasks=[task], is_working_day=working)
    assert curve.planned_duration == 4
    assert curve.at(holiday) == curve.at(MON + timedelta(days=1)) == pytest.approx(200.0)


def test_a_milestone_books_its_budget_on_its_day() -> None:
    saturday = MON + timedelta(days=5)
    tasks = [evm.TaskBudget(300.0, saturday, saturday)]  # falls on the next Monday
    curve = evm.planned_curve(tasks=tasks)
    assert curve.days == (MON + timedelta(days=7),)
    assert curve.total == pytest.approx(300.0)


def _project() -> list[evm.TaskBudget]:
    """Two weeks of work: 1,000 in week one (done 100%), 1,000 in week two (done 20%)."""
    return [
        evm.TaskBudget(1_000.0, MON, MON + timedelta(days=4), percent_complete=100, id="a"),
        evm.TaskBudget(1_000.0, MON + timedelta(days=7), MON + timedelta(days=11), 20, id="b"),
    ]


def test_compute_reads_pv_ev_and_earned_schedule_in_working_days() -> None:
    status = MON + timedelta(days=8)  # Tuesday of week two: seven working days gone
    f = evm.compute(tasks=_project(), actual_cost=1_300.0, status_date=status)
    assert f.bac == pytest.approx(2_000.0)
    assert f.pv == pytest.approx(1_400.0)
    assert f.ev == pytest.approx(1_200.0)
    assert f.at == 7 and f.planned_duration == 10
    assert f.es == pytest.approx(6.0)  # 1,200 is the plan at the end of day six
    assert f.sv_t == pytest.approx(-1.0) and f.spi_t == pytest.approx(6 / 7)
    assert f.cpi == pytest.approx(1_200 / 1_300)


def test_before_the_start_nothing_is_divided_by_zero() -> None:
    f = evm.compute(tasks=_project(), actual_cost=0.0, status_date=MON - timedelta(days=3))
    tasks_untouched = evm.compute(
        tasks=[evm.TaskBudget(t.budget, t.baseline_start, t.baseline_finish) for t in _project()],
        actual_cost=0.0,
        status_date=MON - timedelta(days=3),
    )
    for figures in (f, tasks_untouched):
        assert figures.pv == 0.0 and figures.at == 0
        assert figures.spi is None and figures.spi_t is None and figures.ieac_t is None
    assert tasks_untouched.cpi is None and tasks_untouched.eac_cpi is None
    assert tasks_untouched.eac_atypical == pytest.approx(2_000.0)
    assert tasks_untouched.budget.status == "unknown"


def test_cost_without_progress_gives_no_cpi_based_forecast() -> None:
    f = evm.figures(bac=1_000.0, pv=200.0, ev=0.0, ac=150.0)
    assert f.cpi == 0.0
    assert f.eac_cpi is None and f.eac_cpi_spi is None and f.eac is None and f.vac is None
    assert f.etc is None and f.tcpi_eac is None
    assert f.tcpi_bac == pytest.approx(1_000 / 850)


def test_after_the_finish_spi_returns_to_one_but_spi_t_shows_the_lateness() -> None:
    # All work done two weeks late: EV = PV = BAC, so SPI = 1 — earned schedule still says late.
    done = [evm.TaskBudget(t.budget, t.baseline_start, t.baseline_finish, 100) for t in _project()]
    status = MON + timedelta(days=25)  # Friday of week four: twenty working days gone
    f = evm.compute(tasks=done, actual_cost=2_000.0, status_date=status)
    assert f.spi == pytest.approx(1.0)
    assert f.es == pytest.approx(10.0) and f.at == 20
    assert f.spi_t == pytest.approx(0.5) and f.sv_t == pytest.approx(-10.0)


def test_spending_the_whole_budget_leaves_tcpi_to_bac_undefined() -> None:
    f = evm.figures(bac=1_000.0, pv=900.0, ev=800.0, ac=1_000.0)
    assert f.tcpi_bac is None
    assert f.eac_cpi == pytest.approx(1_250.0)


# --- the budget rule: 预算偏差控制在±5%以内 ---


@pytest.mark.parametrize(
    ("ev", "ac", "state"),
    [
        (1_000.0, 1_040.0, "within"),
        (1_000.0, 1_060.0, "over"),
        (1_000.0, 900.0, "under"),
        (1_000.0, 1_050.0, "within"),
        (0.0, 10.0, "unknown"),
    ],
)
def test_budget_rule_flags_variance_beyond_five_percent_either_way(
    ev: float, ac: float, state: str
) -> None:
    f = evm.figures(bac=5_000.0, pv=1_000.0, ev=ev, ac=ac)
    assert f.budget.status == state
    assert f.budget.breached == (state in ("over", "under"))
    assert f.budget.message


def test_budget_rule_threshold_and_basis_are_configurable() -> None:
    rule = evm.BudgetRule(threshold=0.10)
    assert (
        evm.figures(bac=5_000.0, pv=1_000.0, ev=1_000.0, ac=1_060.0, budget_rule=rule).budget.status
        == "within"
    )
    forecast = evm.BudgetRule(threshold=0.05, basis="vac")
    f = evm.figures(bac=5_000.0, pv=1_000.0, ev=1_000.0, ac=1_040.0, budget_rule=forecast)
    assert f.budget.variance == pytest.approx(-0.04)  # VAC / BAC = (5000 − 5200) / 5000
    assert f.budget.status == "within"
    assert "5%" in f.budget.message and "-4.0%" in f.budget.message


# --- S-curves ---


def test_s_curve_by_week_stops_ev_and_ac_at_the_status_date() -> None:
    curve = evm.planned_curve(tasks=_project())
    status = MON + timedelta(days=4)
    points = evm.s_curve(
        curve=curve,
        status_date=status,
        earned=[(MON + timedelta(days=2), 400.0), (status, 1_000.0)],
        costs=[(MON, 300.0), (MON + timedelta(days=3), 800.0)],
        period="week",
    )
    assert [p.period_end for p in points] == [MON + timedelta(days=6), MON + timedelta(days=13)]
    first, second = points
    assert (first.pv, first.pv_cum) == (pytest.approx(1_000.0), pytest.approx(1_000.0))
    assert (first.ev_cum, first.ac_cum, first.ac) == (1_000.0, 1_100.0, 1_100.0)
    assert second.pv == pytest.approx(1_000.0) and second.ev is None and second.ac is None


def test_s_curve_by_month_covers_the_plan_until_its_end() -> None:
    tasks = [evm.TaskBudget(3_000.0, date(2026, 1, 5), date(2026, 3, 27))]
    points = evm.s_curve(
        curve=evm.planned_curve(tasks=tasks), status_date=date(2026, 2, 10), period="month"
    )
    assert [p.period_end for p in points] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
    ]
    assert points[-1].pv_cum == pytest.approx(3_000.0)
    assert points[1].ev_cum == 0.0 and points[2].ev_cum is None


# --- properties ---

money = st.floats(min_value=1.0, max_value=1e7, allow_nan=False, allow_infinity=False)


@given(bac=money, share=st.floats(min_value=0.01, max_value=0.99))
def test_on_plan_and_on_budget_means_eac_is_bac(bac: float, share: float) -> None:
    value = bac * share
    f = evm.figures(bac=bac, pv=value, ev=value, ac=value)
    assert f.cpi == pytest.approx(1.0) and f.spi == pytest.approx(1.0)
    for eac in (f.eac, f.eac_cpi, f.eac_atypical, f.eac_cpi_spi):
        assert eac == pytest.approx(bac)
    assert f.vac == pytest.approx(0.0, abs=1e-6 * bac)
    assert f.tcpi_bac == pytest.approx(1.0) and f.tcpi_eac == pytest.approx(1.0)
    assert f.budget.status == "within"


increments = st.lists(st.floats(min_value=0.0, max_value=1e4), min_size=1, max_size=30)


@settings(max_examples=200)
@given(steps=increments, fractions=st.lists(st.floats(0, 1.2), min_size=2, max_size=5))
def test_earned_schedule_grows_with_ev_and_stays_within_the_plan(
    steps: list[float], fractions: list[float]
) -> None:
    cumulative = [sum(steps[: i + 1]) for i in range(len(steps))]
    total = cumulative[-1]
    values = sorted(f * total for f in fractions)
    schedule = [evm.earned_schedule(cumulative=cumulative, ev=v) for v in values]
    assert schedule == sorted(schedule)
    assert all(0.0 <= es <= len(steps) for es in schedule)


@given(
    steps=st.lists(st.floats(min_value=1.0, max_value=1e4), min_size=1, max_size=30), data=st.data()
)
def test_earning_exactly_the_plan_gives_es_equal_to_elapsed_periods(
    steps: list[float], data: st.DataObject
) -> None:
    cumulative = [sum(steps[: i + 1]) for i in range(len(steps))]
    k = data.draw(st.integers(min_value=1, max_value=len(steps)))
    assert evm.earned_schedule(cumulative=cumulative, ev=cumulative[k - 1]) == pytest.approx(k)


budgets = st.lists(
    st.tuples(money, st.integers(0, 60), st.integers(0, 30)), min_size=1, max_size=12
)


@given(plan=budgets)
def test_the_planned_curve_adds_up_to_the_budgets(plan: list[tuple[float, int, int]]) -> None:
    tasks = [
        evm.TaskBudget(b, MON + timedelta(days=s), MON + timedelta(days=s + d)) for b, s, d in plan
    ]
    curve = evm.planned_curve(tasks=tasks)
    assert curve.total == pytest.approx(sum(b for b, _s, _d in plan))
    assert list(curve.cumulative) == sorted(curve.cumulative)
    assert all(evm.weekdays(day) for day in curve.days)
    weeks = evm.s_curve(curve=curve, status_date=MON, period="week")
    assert sum(p.pv for p in weeks) == pytest.approx(curve.total)
