"""China's public holidays and adjusted working days (调休), per year, as data.

Transcribed from the State Council General Office's yearly notices "关于 YYYY 年部分节假日安排的
通知" (the notice number is kept with each year). Each year lists

* ``off``: the days off of each holiday period, as inclusive date ranges (weekend days inside a
  period are listed too; they were days off anyway), and
* ``work``: the weekend days that became working days to make up for a longer break.

Years covered: 2020 to 2026 (``YEARS``). 2020 includes the Spring Festival extension to 2 February
of notice 国办发明电〔2020〕1号 (which also cancelled the working Saturday of 1 February). A year
that is not here has no data: a calendar then falls back to its weekends only and says so
(:meth:`clientops.projects.scheduling.calendar.WorkCalendar.missing_years`).
Add a year by appending its notice below, then run ``tests/test_scheduling_calendar.py``: it checks
that every working day listed falls on a weekend and every range is in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class HolidayYear:
    """One year's notice: days off (inclusive ranges) and weekend days worked."""

    notice: str
    off: tuple[tuple[str, str, str], ...]  # (first day, last day, holiday)
    work: tuple[str, ...]

    def days_off(self) -> list[date]:
        """Every day off listed in the notice."""
        days: list[date] = []
        for first, last, _name in self.off:
            day, end = date.fromisoformat(first), date.fromisoformat(last)
            while day <= end:
                days.append(day)
                day += timedelta(days=1)
        return days

    def working_days(self) -> list[date]:
        """The weekend days that are working days (调休上班)."""
        return [date.fromisoformat(day) for day in self.work]


CN_HOLIDAYS: dict[int, HolidayYear] = {
    2020: HolidayYear(
        notice="国办发明电〔2019〕16号; 国办发明电〔2020〕1号",
        off=(
            ("2020-01-01", "2020-01-01", "元旦"),
            ("2020-01-24", "2020-02-02", "春节"),  # 24–30 Jan, extended to 2 Feb
            ("2020-04-04", "2020-04-06", "清明节"),
            ("2020-05-01", "2020-05-05", "劳动节"),
            ("2020-06-25", "2020-06-27", "端午节"),
            ("2020-10-01", "2020-10-08", "国庆节、中秋节"),
        ),
        work=("2020-01-19", "2020-04-26", "2020-05-09", "2020-06-28", "2020-09-27", "2020-10-10"),
    ),
    2021: HolidayYear(
        notice="国办发明电〔2020〕27号",
        off=(
            ("2021-01-01", "2021-01-03", "元旦"),
            ("2021-02-11", "2021-02-17", "春节"),
            ("2021-04-03", "2021-04-05", "清明节"),
            ("2021-05-01", "2021-05-05", "劳动节"),
            ("2021-06-12", "2021-06-14", "端午节"),
            ("2021-09-19", "2021-09-21", "中秋节"),
            ("2021-10-01", "2021-10-07", "国庆节"),
        ),
        work=(
            "2021-02-07",
            "2021-02-20",
            "2021-04-25",
            "2021-05-08",
            "2021-09-18",
            "2021-09-26",
            "2021-10-09",
        ),
    ),
    2022: HolidayYear(
        notice="国办发明电〔2021〕11号",
        off=(
            ("2022-01-01", "2022-01-03", "元旦"),
            ("2022-01-31", "2022-02-06", "春节"),
            ("2022-04-03", "2022-04-05", "清明节"),
            ("2022-04-30", "2022-05-04", "劳动节"),
            ("2022-06-03", "2022-06-05", "端午节"),
            ("2022-09-10", "2022-09-12", "中秋节"),
            ("2022-10-01", "2022-10-07", "国庆节"),
        ),
        work=(
            "2022-01-29",
            "2022-01-30",
            "2022-04-02",
            "2022-04-24",
            "2022-05-07",
            "2022-10-08",
            "2022-10-09",
        ),
    ),
    2023: HolidayYear(
        notice="国办发明电〔2022〕16号",
        off=(
            ("2022-12-31", "2023-01-02", "元旦"),
            ("2023-01-21", "2023-01-27", "春节"),
            ("2023-04-05", "2023-04-05", "清明节"),
            ("2023-04-29", "2023-05-03", "劳动节"),
            ("2023-06-22", "2023-06-24", "端午节"),
            ("2023-09-29", "2023-10-06", "中秋节、国庆节"),
        ),
        work=(
            "2023-01-28",
            "2023-01-29",
            "2023-04-23",
            "2023-05-06",
            "2023-06-25",
            "2023-10-07",
            "2023-10-08",
        ),
    ),
    2024: HolidayYear(
        notice="国办发明电〔2023〕7号",
        off=(
            ("2023-12-30", "2024-01-01", "元旦"),
            ("2024-02-10", "2024-02-17", "春节"),
            ("2024-04-04", "2024-04-06", "清明节"),
            ("2024-05-01", "2024-05-05", "劳动节"),
            ("2024-06-08", "2024-06-10", "端午节"),
            ("2024-09-15", "2024-09-17", "中秋节"),
            ("2024-10-01", "2024-10-07", "国庆节"),
        ),
        work=(
            "2024-02-04",
            "2024-02-18",
            "2024-04-07",
            "2024-04-28",
            "2024-05-11",
            "2024-09-14",
            "2024-09-29",
            "2024-10-12",
        ),
    ),
    2025: HolidayYear(
        notice="国办发明电〔2024〕12号",
        off=(
            ("2025-01-01", "2025-01-01", "元旦"),
            ("2025-01-28", "2025-02-04", "春节"),
            ("2025-04-04", "2025-04-06", "清明节"),
            ("2025-05-01", "2025-05-05", "劳动节"),
            ("2025-05-31", "2025-06-02", "端午节"),
            ("2025-10-01", "2025-10-08", "国庆节、中秋节"),
        ),
        work=("2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"),
    ),
    2026: HolidayYear(
        notice="国办发明电〔2025〕7号",
        off=(
            ("2026-01-01", "2026-01-03", "元旦"),
            ("2026-02-15", "2026-02-23", "春节"),
            ("2026-04-04", "2026-04-06", "清明节"),
            ("2026-05-01", "2026-05-05", "劳动节"),
            ("2026-06-19", "2026-06-21", "端午节"),
            ("2026-09-25", "2026-09-27", "中秋节"),
            ("2026-10-01", "2026-10-07", "国庆节"),
        ),
        work=("2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"),
    ),
}

YEARS: tuple[int, ...] = tuple(sorted(CN_HOLIDAYS))


def days_off(years: range | tuple[int, ...] = YEARS) -> set[date]:
    """Public holidays of the given years that have data."""
    return {day for year in years if year in CN_HOLIDAYS for day in CN_HOLIDAYS[year].days_off()}


def working_days(years: range | tuple[int, ...] = YEARS) -> set[date]:
    """Adjusted working weekend days of the given years that have data."""
    return {
        day for year in years if year in CN_HOLIDAYS for day in CN_HOLIDAYS[year].working_days()
    }
