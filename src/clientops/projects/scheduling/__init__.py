"""Scheduling maths for customer projects, self-contained (no database, no web).

* :mod:`.cpm` — the critical path method on arrays (:class:`Network`, :class:`Schedule`).
* :mod:`.calendar` — working calendars and fast offset ⇄ date conversion; China's holidays in
  :mod:`.holidays_cn`.
* :mod:`.levelling` — resource levelling with OR-Tools CP-SAT (imported on its own: it loads
  OR-Tools).
* :mod:`.formats` — MS Project XML (MSPDI), the CSV task format and PSPLIB ``.sm`` files.
* :mod:`.cli` — ``clientops schedule``, the standalone command.

All figures are whole working days counted from the project start (day 0), finishes exclusive
(``finish = start + duration``); see :mod:`.cpm`.
"""

from clientops.projects.scheduling.calendar import WorkCalendar, WorkingDays
from clientops.projects.scheduling.cpm import (
    LINK_TYPES,
    Constraint,
    Network,
    Schedule,
    ScheduleCycle,
    ScheduleError,
)

__all__ = [
    "LINK_TYPES",
    "Constraint",
    "Network",
    "Schedule",
    "ScheduleCycle",
    "ScheduleError",
    "WorkCalendar",
    "WorkingDays",
]
