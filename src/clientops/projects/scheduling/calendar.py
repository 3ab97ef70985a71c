"""Working calendars: weekends, holidays, adjusted working days, per-resource exceptions.

A :class:`WorkCalendar` says which dates are working days. Which rule wins, strongest first:

1. the calendar's own exceptions (``workdays`` then ``holidays``; a resource's calendar is the
   team calendar plus its own exceptions, see :meth:`WorkCalendar.with_exceptions`),
2. China's public holidays and adjusted working days (调休) when ``china`` is on, for the years in
   :mod:`clientops.projects.scheduling.holidays_cn`,
3. the weekend (Saturday and Sunday unless told otherwise).

:meth:`WorkCalendar.days` anchors a calendar at a project start and gives :class:`WorkingDays`, a
precomputed table of working dates that converts whole arrays of working-day offsets to dates and
back with one NumPy indexing step (``searchsorted`` the other way). Day 0 is the first working day
on or after the project start; a date that is not a working day maps to the next working day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from clientops.projects.scheduling import holidays_cn

IntArray = npt.NDArray[np.int64]
DateArray = npt.NDArray[np.datetime64]
EPOCH = date(1970, 1, 1)  # a Thursday: weekday(ordinal) = (ordinal + 3) % 7, Monday = 0
MARGIN = 400  # calendar days kept before the project start, for constraints dated before it
CHUNK = 3660  # calendar days added each time the table grows
MAX_SPAN = 366 * 300  # a plan longer than three centuries is a mistake, not a plan


def _ordinal(day: date) -> int:
    return (day - EPOCH).days


@dataclass(frozen=True)
class WorkCalendar:
    """Which dates are working days (see the module's rules)."""

    name: str = "Standard"
    weekend: frozenset[int] = frozenset({5, 6})  # Monday = 0 … Sunday = 6
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    china: bool = False

    @classmethod
    def chinese(cls, name: str = "China") -> WorkCalendar:
        """Monday to Friday with China's public holidays and adjusted working days."""
        return cls(name=name, china=True)

    def with_exceptions(
        self, *, off: Iterable[date] = (), on: Iterable[date] = (), name: str | None = None
    ) -> WorkCalendar:
        """This calendar with some dates off and some worked (e.g. one person's leave)."""
        off_set, on_set = frozenset(off), frozenset(on)
        return replace(
            self,
            name=name or self.name,
            holidays=(self.holidays - on_set) | off_set,
            workdays=(self.workdays - off_set) | on_set,
        )

    def is_working(self, day: date) -> bool:
        """Whether ``day`` is a working day."""
        return bool(self._mask(np.array([_ordinal(day)], np.int64))[0])

    def missing_years(self, first: date, last: date) -> list[int]:
        """Years between the two dates that China's data does not cover (weekends only there).

        Empty when the calendar does not use China's holidays.
        """
        if not self.china:
            return []
        return [y for y in range(first.year, last.year + 1) if y not in holidays_cn.CN_HOLIDAYS]

    def exceptions(self, first: date, last: date) -> tuple[list[date], list[date]]:
        """Between two dates (inclusive): the days off that are not weekend days (holidays)
        and the weekend days that are worked (adjusted working days), e.g. for a Gantt chart."""
        count = (last - first).days + 1
        if count <= 0:
            return [], []
        ordinals = np.arange(_ordinal(first), _ordinal(first) + count, dtype=np.int64)
        working = self._mask(ordinals)
        weekend = np.isin((ordinals + 3) % 7, np.fromiter(self.weekend, np.int64))
        holidays = ordinals[~working & ~weekend]
        worked = ordinals[working & weekend]
        return _days_of(holidays), _days_of(worked)

    def days(self, start: date) -> WorkingDays:
        """The conversion table anchored at the project start ``start`` (cached)."""
        return _table(self, start)

    def _mask(self, ordinals: IntArray) -> npt.NDArray[np.bool_]:
        """Working-day flags for an array of day ordinals."""
        weekday = (ordinals + 3) % 7
        working = ~np.isin(weekday, np.fromiter(self.weekend, np.int64, len(self.weekend)))
        if self.china:
            working = _apply(working, ordinals, _china_off(), False)
            working = _apply(working, ordinals, _china_work(), True)
        working = _apply(working, ordinals, _ordinals(self.holidays), False)
        return _apply(working, ordinals, _ordinals(self.workdays), True)


class WorkingDays:
    """Working dates from a project start: offsets ⇄ dates for whole arrays at once."""

    def __init__(self, calendar: WorkCalendar, start: date) -> None:
        self.calendar = calendar
        self.start = start
        self._first = _ordinal(start) - MARGIN
        self._grow(MARGIN + CHUNK)

    def _grow(self, span: int) -> None:
        """(Re)build the table over ``span`` calendar days from ``self._first``."""
        ordinals = np.arange(self._first, self._first + span, dtype=np.int64)
        working = ordinals[self.calendar._mask(ordinals)]
        self._zero = int(np.searchsorted(working, _ordinal(self.start)))
        # One assignment, so a reader in another thread sees the old or the new table.
        self._table: tuple[IntArray, int] = (working, self._first + span)

    def _ensure(self, last_offset: int) -> IntArray:
        """The table, grown until it covers ``last_offset`` (at least one extra day)."""
        working, end = self._table
        while self._zero + last_offset + 1 >= working.size:
            span = end - self._first + CHUNK * (1 + last_offset // CHUNK)
            if span > MAX_SPAN:
                raise ValueError("the calendar has too few working days for this plan")
            self._grow(span)
            working, end = self._table
        return working

    def to_dates(self, offsets: IntArray | list[int]) -> DateArray:
        """The date of each working-day offset (``datetime64[D]``)."""
        values = np.asarray(offsets, np.int64)
        if values.size == 0:
            return np.zeros(0, "datetime64[D]")
        if int(values.min()) < -self._zero:
            raise ValueError("offset before the calendar's reach")
        working = self._ensure(int(values.max()))
        return working[values + self._zero].astype("datetime64[D]")

    def date_of(self, offset: int) -> date:
        """The date of one working-day offset."""
        value: date = self.to_dates([offset])[0].item()
        return value

    def to_offsets(self, dates: DateArray | Iterable[date]) -> IntArray:
        """The working-day offset of each date (a day off counts as the next working day)."""
        values = np.asarray(dates, "datetime64[D]").astype(np.int64)
        if values.size == 0:
            return np.zeros(0, np.int64)
        if int(values.min()) < self._first:
            raise ValueError("date before the calendar's reach")
        working, end = self._table
        while int(values.max()) >= end:
            self._grow(end - self._first + CHUNK)
            working, end = self._table
        return np.searchsorted(working, values).astype(np.int64) - self._zero

    def offset_of(self, day: date) -> int:
        """The working-day offset of one date."""
        return int(self.to_offsets([day])[0])

    def finish_dates(self, early_start: IntArray, early_finish: IntArray) -> DateArray:
        """The last working day of each task (its start date for a milestone)."""
        last = np.maximum(np.asarray(early_finish) - 1, np.asarray(early_start))
        return self.to_dates(last)

    def missing_years(self, last_offset: int) -> list[int]:
        """Years of the plan (start to ``last_offset``) without China's holiday data."""
        return self.calendar.missing_years(self.start, self.date_of(max(last_offset, 0)))

    def blocked(self, other: WorkCalendar, horizon: int) -> IntArray:
        """Offsets in ``0 .. horizon-1`` whose date is not a working day in ``other``.

        How a person's leave reaches levelling, which counts in the project's working days.
        """
        if horizon <= 0:
            return np.zeros(0, np.int64)
        dates = self.to_dates(np.arange(horizon, dtype=np.int64)).astype(np.int64)
        return np.flatnonzero(~other._mask(dates)).astype(np.int64)


def _apply(
    working: npt.NDArray[np.bool_], ordinals: IntArray, days: IntArray, value: bool
) -> npt.NDArray[np.bool_]:
    if days.size:
        working = working.copy()
        working[np.isin(ordinals, days)] = value
    return working


def _days_of(ordinals: IntArray) -> list[date]:
    return [EPOCH + timedelta(days=int(o)) for o in ordinals.tolist()]


def _ordinals(days: Iterable[date]) -> IntArray:
    return np.fromiter((_ordinal(day) for day in days), np.int64)


@lru_cache(maxsize=1)
def _china_off() -> IntArray:
    return _ordinals(sorted(holidays_cn.days_off()))


@lru_cache(maxsize=1)
def _china_work() -> IntArray:
    return _ordinals(sorted(holidays_cn.working_days()))


@lru_cache(maxsize=64)
def _table(calendar: WorkCalendar, start: date) -> WorkingDays:
    return WorkingDays(calendar, start)


def daterange(first: date, last: date) -> list[date]:
    """Every date from ``first`` to ``last`` inclusive."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
