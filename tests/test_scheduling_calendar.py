"""Working calendars: China's holidays and adjusted working days, exceptions, conversions."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from clientops.projects.scheduling import WorkCalendar
from clientops.projects.scheduling.holidays_cn import CN_HOLIDAYS, YEARS

pytestmark = pytest.mark.nodb  # touches no database: runs once, in the SQLite pass


def _dates(values: np.ndarray) -> list[str]:
    return [str(v) for v in values]


def test_spring_festival_2026_and_its_working_saturdays() -> None:
    # 国办发明电〔2025〕7号: off 15–23 February 2026; Saturdays 14 and 28 February are worked.
    days = WorkCalendar.chinese().days(date(2026, 2, 9))
    assert _dates(days.to_dates(np.arange(12))) == [
        "2026-02-09", "2026-02-10", "2026-02-11", "2026-02-12", "2026-02-13",
        "2026-02-14",  # Saturday, an adjusted working day
        "2026-02-24", "2026-02-25", "2026-02-26", "2026-02-27",
        "2026-02-28",  # Saturday, worked too
        "2026-03-02",
    ]  # fmt: skip
    # A ten-day task from Monday 9 February ends on Friday 27 February.
    finish = days.finish_dates(np.array([0]), np.array([10]))
    assert _dates(finish) == ["2026-02-27"]
    # A date inside the break counts as the next working day.
    assert days.offset_of(date(2026, 2, 18)) == 6
    assert days.offset_of(date(2026, 2, 14)) == 5


def test_without_china_data_the_festival_week_is_worked() -> None:
    days = WorkCalendar().days(date(2026, 2, 9))
    assert days.date_of(5) == date(2026, 2, 16)
    assert not WorkCalendar().is_working(date(2026, 2, 14))
    assert WorkCalendar.chinese().is_working(date(2026, 2, 14))
    assert not WorkCalendar.chinese().is_working(date(2026, 2, 16))


def test_national_day_2025_and_the_2020_extension() -> None:
    china = WorkCalendar.chinese()
    assert not china.is_working(date(2025, 10, 8))  # 国庆节、中秋节 1–8 October
    assert china.is_working(date(2025, 10, 11))  # Saturday worked
    # 国办发明电〔2020〕1号 extended the break to 2 February and cancelled the working 1 Feb.
    assert not china.is_working(date(2020, 1, 31))
    assert not china.is_working(date(2020, 2, 1))
    assert china.is_working(date(2020, 1, 19))


def test_a_year_without_data_falls_back_to_weekends_and_says_so() -> None:
    days = WorkCalendar.chinese().days(date(2026, 12, 1))
    assert days.missing_years(300) == [2027, 2028]
    assert WorkCalendar.chinese().is_working(date(2027, 10, 4))  # a Monday: no data, so worked
    assert WorkCalendar().missing_years(date(2030, 1, 1), date(2031, 1, 1)) == []


def test_a_persons_exceptions_override_the_team_calendar() -> None:
    team = WorkCalendar.chinese()
    alice = team.with_exceptions(off=[date(2026, 3, 3)], on=[date(2026, 2, 16)], name="Alice")
    assert not alice.is_working(date(2026, 3, 3))
    assert alice.is_working(date(2026, 2, 16))  # volunteers during the festival
    assert team.is_working(date(2026, 3, 3))
    # In project working days, Alice is away on the project's day of 3 March.
    days = team.days(date(2026, 3, 2))
    assert days.blocked(alice, 10).tolist() == [1]


def test_conversions_both_ways_for_whole_arrays() -> None:
    days = WorkCalendar.chinese().days(date(2025, 12, 29))
    offsets = np.arange(0, 700, 7)
    assert days.to_offsets(days.to_dates(offsets)).tolist() == offsets.tolist()
    # Days before the project start have negative offsets.
    assert days.offset_of(date(2025, 12, 26)) == -1
    # The table grows on demand, far past its first chunk.
    assert days.to_offsets(days.to_dates([5000])).tolist() == [5000]


@pytest.mark.parametrize("year", YEARS)
def test_holiday_data_is_consistent(year: int) -> None:
    data = CN_HOLIDAYS[year]
    assert all(day.weekday() >= 5 for day in data.working_days()), "调休 days are weekend days"
    for first, last, name in data.off:
        assert first <= last, name
        assert date.fromisoformat(first).year in (year - 1, year), name
    assert not set(data.working_days()) & set(data.days_off())
    # Days off on weekdays minus weekend days worked = the statutory holidays falling on
    # weekdays: 11 a year until 2024, 13 from 2025 (+2 in 2020 for the extension).
    net = sum(d.weekday() < 5 for d in data.days_off()) - len(data.working_days())
    assert net == (13 if year >= 2025 or year == 2020 else 11)
    assert YEARS[0] <= 2020 and YEARS[-1] >= 2026


def test_exceptions_between_two_dates_for_a_gantt_chart() -> None:
    holidays, worked = WorkCalendar.chinese().exceptions(date(2026, 2, 1), date(2026, 3, 1))
    # 15–23 February off: the weekdays among them are holidays; 14 and 28 February are worked.
    assert holidays == [date(2026, 2, d) for d in (16, 17, 18, 19, 20, 23)]
    assert worked == [date(2026, 2, 14), date(2026, 2, 28)]
