"""Plan files in and out: MS Project XML (MSPDI), the CSV task format, PSPLIB ``.sm``.

Every reader returns a :class:`ProjectData` (tasks, links, resource capacities, and for MSPDI the
start date and calendar); :meth:`ProjectData.network` turns it into a CPM network of the leaf tasks
(links on summary tasks are carried to every task under them). A file that cannot be read raises
:class:`FormatError`, whose message names the file, the line or element, and why.

The CSV task format (UTF-8, or GB18030 when that fails; one header row; ``#`` lines are comments)::

    # capacity: dev=2, qa=1
    uid,name,duration_days,predecessors,resources
    1,Design,5,,dev
    2,Build,10,1FS,dev:2
    3,Test plan,3,1SS+2,qa
    4,Test,4,2FS-1;3FF,qa
    5,Go-live,0,4,

Columns (case-insensitive; unknown ones are ignored): ``uid`` (required, unique), ``name``,
``wbs`` (e.g. ``1.2.3``: a task whose code prefixes another's is a summary), ``duration_days``
(required, whole working days, 0 = milestone), ``predecessors`` (``;``-separated
``UID[TYPE][±LAG]``: TYPE is FS, SS, FF or SF in capitals, FS when left out; LAG in working
days, an optional ``d`` after it; e.g. ``3FS+2;5SS-1;7``), ``resources`` (``;``-separated
``NAME[:UNITS]``, 1 unit when left out), ``start_no_earlier`` and ``finish_no_later``
(working days from the project start). A ``# capacity: NAME=UNITS, ...`` comment sets the
resources' capacities; a resource not named there gets the largest demand any one task makes
of it. ``# units: percent`` says units are hundredths of a resource (as MS Project counts them:
``dev:50`` is half a developer, ``dev=200`` two).
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from xml.parsers import expat

import numpy as np
import numpy.typing as npt

from clientops.core.i18n import gettext as _
from clientops.projects.scheduling.calendar import WorkCalendar, WorkingDays
from clientops.projects.scheduling.cpm import LINK_TYPES, Network, Schedule, ScheduleError

Uid = int | str
MSPDI_NS = "http://schemas.microsoft.com/project"
MSPDI_LINK_TYPES = {0: "FF", 1: "FS", 2: "SF", 3: "SS"}  # PredecessorLink/Type
MSPDI_LINK_CODES = {name: code for code, name in MSPDI_LINK_TYPES.items()}
ELAPSED_LAG_FORMATS = {4, 6, 8, 10, 12}  # em, eh, ed, ew, emo: counted in 24-hour days
PERCENT_LAG_FORMATS = {19, 20, 51, 52}
MAX_FILE_BYTES = 200 * 2**20


class FormatError(ScheduleError):
    """A plan file that cannot be read: where (file, line or element) and why."""

    def __init__(self, source: str, where: str, why: str) -> None:
        self.source, self.where, self.why = source, where, why
        super().__init__(f"{source}: {where}: {why}" if where else f"{source}: {why}")


@dataclass
class TaskRow:
    """One task as read from a file; durations and constraints in working days."""

    uid: Uid
    name: str = ""
    duration: int = 0
    wbs: str = ""
    outline_level: int = 1
    summary: bool = False
    milestone: bool = False
    start_no_earlier: int | None = None
    finish_no_later: int | None = None
    demands: dict[str, int] = field(default_factory=dict)
    start: datetime | None = None  # as stored in the file (MSPDI), for reference
    finish: datetime | None = None


@dataclass
class LinkRow:
    """A dependency: ``pred`` → ``succ`` of type FS/SS/FF/SF, lag in working days."""

    pred: Uid
    succ: Uid
    type: str = "FS"
    lag: int = 0


@dataclass
class ProjectData:
    """A plan read from a file, before scheduling."""

    name: str = ""
    tasks: list[TaskRow] = field(default_factory=list)
    links: list[LinkRow] = field(default_factory=list)
    capacities: dict[str, int] = field(default_factory=dict)
    start: date | None = None
    calendar: WorkCalendar | None = None
    minutes_per_day: int = 480
    unit_scale: int = 1  # demands and capacities count 1/unit_scale of a resource (MSPDI: 100)

    def leaves(self) -> list[TaskRow]:
        """The tasks that are scheduled (those with no task under them), in file order."""
        parents = _parents(self.tasks)
        return [t for t in self.tasks if t.uid not in parents]

    def network(self) -> Network:
        """The CPM network of the leaf tasks, with summary links carried to their leaves."""
        leaves = self.leaves()
        under = _leaves_under(self.tasks, {t.uid for t in leaves})
        links = [
            (p, s, link.type, link.lag)
            for link in self.links
            for p in under.get(link.pred, [link.pred])
            for s in under.get(link.succ, [link.succ])
        ]
        return Network.build(
            [t.uid for t in leaves], [t.duration for t in leaves], links, _constraints(self, under)
        )

    def demand_matrix(self) -> tuple[list[str], npt.NDArray[np.int64], list[int]]:
        """Resource names, the leaf tasks × resources demand matrix, and the capacities."""
        names = sorted({r for t in self.tasks for r in t.demands} | set(self.capacities))
        leaves = self.leaves()
        need = np.zeros((len(leaves), len(names)), np.int64)
        for i, task in enumerate(leaves):
            for r, name in enumerate(names):
                need[i, r] = task.demands.get(name, 0)
        largest = need.max(axis=0, initial=0) if names else np.zeros(0, np.int64)
        capacity = [self.capacities.get(n, max(int(largest[r]), 1)) for r, n in enumerate(names)]
        return names, need, capacity


def read(path: Path) -> ProjectData:
    """Read a plan, choosing the format by the file's extension (.xml, .csv, .sm)."""
    suffix = path.suffix.lower()
    readers = {".xml": read_mspdi, ".mspdi": read_mspdi, ".csv": read_csv, ".sm": read_psplib}
    if suffix not in readers:
        raise FormatError(
            path.name, "", _("unknown file type %(ext)r: use .xml (MS Project), .csv or .sm")
            % {"ext": suffix or path.name}
        )  # fmt: skip
    if not path.is_file():
        raise FormatError(path.name, "", _("no such file"))
    if path.stat().st_size > MAX_FILE_BYTES:
        raise FormatError(path.name, "", _("the file is larger than 200 MB"))
    return readers[suffix](path)


# ---------------------------------------------------------------- MSPDI (MS Project XML)


@dataclass
class _Node:
    """An XML element with the line it starts on (ElementTree keeps no line numbers)."""

    tag: str
    line: int
    children: list[_Node] = field(default_factory=list)
    text: str = ""

    def find(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str) -> list[_Node]:
        return [c for c in self.children if c.tag == tag]

    def value(self, tag: str, default: str = "") -> str:
        child = self.find(tag)
        return child.text.strip() if child is not None else default


def _parse_xml(data: bytes, source: str) -> _Node:
    """A tree of :class:`_Node`; refuses DTDs (so no entity tricks) and reports bad XML's line."""
    parser = expat.ParserCreate()
    root = _Node("", 0)
    stack = [root]

    def start(tag: str, _attrs: dict[str, str]) -> None:
        node = _Node(tag.rsplit(":", 1)[-1], parser.CurrentLineNumber)
        stack[-1].children.append(node)
        stack.append(node)

    def end(_tag: str) -> None:
        stack.pop()

    def text(chunk: str) -> None:
        stack[-1].text += chunk

    def doctype(*_args: Any) -> None:
        raise FormatError(source, f"line {parser.CurrentLineNumber}", _("DTDs are not allowed"))

    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.CharacterDataHandler, parser.StartDoctypeDeclHandler = text, doctype
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        where = f"line {exc.lineno}, column {exc.offset + 1}"
        raise FormatError(source, where, _("not well-formed XML (%(e)s)") % {"e": exc}) from None
    return root


def read_mspdi(path: Path) -> ProjectData:
    """Read MS Project XML (MSPDI), as MS Project, ProjectLibre and GanttProject export it."""
    return parse_mspdi(path.read_bytes(), path.name)


def parse_mspdi(data: bytes, source: str = "project.xml") -> ProjectData:
    """Parse MSPDI bytes (see :func:`read_mspdi`)."""
    tree = _parse_xml(data, source)
    project = tree.children[0] if tree.children else None
    if project is None or project.tag != "Project":
        found = project.tag if project else ""
        raise FormatError(
            source, "line 1", _("the root element is <%(tag)s>, not <Project>: not an MS Project "
                                "XML file") % {"tag": found},
        )  # fmt: skip
    ctx = _MspdiContext(source, project)
    tasks_node = project.find("Tasks")
    rows = [r for r in (_mspdi_task(ctx, t) for t in _all(tasks_node, "Task")) if r is not None]
    known = {r.uid for r in rows}
    links = [link for t in _all(tasks_node, "Task") for link in _mspdi_links(ctx, t, known)]
    capacities, names = _mspdi_resources(ctx, project.find("Resources"))
    _mspdi_assignments(ctx, project.find("Assignments"), {r.uid: r for r in rows}, names)
    return ProjectData(
        name=project.value("Name") or project.value("Title"),
        tasks=rows,
        links=links,
        capacities=capacities,
        start=ctx.start,
        calendar=ctx.calendar,
        minutes_per_day=ctx.minutes_per_day,
        unit_scale=100,
    )


def _all(node: _Node | None, tag: str) -> list[_Node]:
    return node.findall(tag) if node is not None else []


class _MspdiContext:
    """What every element needs: the file name, minutes per day, start and calendar."""

    def __init__(self, source: str, project: _Node) -> None:
        self.source = source
        self.minutes_per_day = _int_of(self, project, "MinutesPerDay", 480) or 480
        start = project.value("StartDate")
        self.start = _datetime_of(self, project, start).date() if start else None
        self.calendar = _mspdi_calendar(self, project)
        self.days: WorkingDays | None = (
            self.calendar.days(self.start) if self.start and self.calendar else None
        )

    def fail(self, node: _Node, why: str) -> FormatError:
        return FormatError(self.source, f"line {node.line}, <{node.tag}>", why)


def _mspdi_task(ctx: _MspdiContext, node: _Node) -> TaskRow | None:
    """One <Task>; None for the project summary (UID 0 at outline level 0) and null rows."""
    uid = _int_of(ctx, node, "UID", None)
    if uid is None:
        raise ctx.fail(node, _("a task has no UID"))
    level = _int_of(ctx, node, "OutlineLevel", 1) or 0
    if node.value("IsNull") == "1" or (uid == 0 and level == 0):
        return None
    duration = _days_of(ctx, node, node.value("Duration", "PT0H0M0S"))
    row = TaskRow(
        uid=uid,
        name=node.value("Name"),
        duration=duration,
        wbs=node.value("WBS") or node.value("OutlineNumber"),
        outline_level=max(level, 1),
        summary=node.value("Summary") == "1",
        milestone=node.value("Milestone") == "1" or duration == 0,
        start=_optional_datetime(ctx, node, "Start"),
        finish=_optional_datetime(ctx, node, "Finish"),
    )
    _mspdi_constraint(ctx, node, row)
    return row


DURATION = re.compile(
    r"^P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def _days_of(ctx: _MspdiContext, node: _Node, text: str) -> int:
    """Working days of an ISO 8601 duration such as PT40H0M0S (rounded up to whole days)."""
    match = DURATION.match(text.strip())
    if not match or match.group("y") or match.group("mo"):
        raise ctx.fail(node, _("Duration %(v)r is not a duration like PT40H0M0S") % {"v": text})
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    minutes = (
        parts.get("d", 0) * ctx.minutes_per_day
        + parts.get("h", 0) * 60
        + parts.get("m", 0)
        + parts.get("s", 0) / 60
    )
    return math.ceil(minutes / ctx.minutes_per_day - 1e-9)


def _mspdi_constraint(ctx: _MspdiContext, node: _Node, row: TaskRow) -> None:
    """ConstraintType/ConstraintDate and Deadline as start-no-earlier / finish-no-later days."""
    kind = _int_of(ctx, node, "ConstraintType", 0)
    when = node.value("ConstraintDate")
    if kind in (2, 4, 5, 6, 3, 7) and when:
        day = _offset(ctx, node, when)
        if kind in (2, 4):  # must start on / start no earlier than
            row.start_no_earlier = day
        elif kind == 6:  # finish no earlier than
            row.start_no_earlier = day + 1 - row.duration
        elif kind == 5:  # start no later than
            row.finish_no_later = day + row.duration
        else:  # must finish on / finish no later than
            row.finish_no_later = day + 1
    deadline = node.value("Deadline")
    if deadline:
        day = _offset(ctx, node, deadline) + 1
        row.finish_no_later = min(row.finish_no_later or day, day)


def _offset(ctx: _MspdiContext, node: _Node, text: str) -> int:
    """Working-day offset of a date in the file, from the project start."""
    if ctx.days is None:
        raise ctx.fail(node, _("a constraint date needs the project's <StartDate>"))
    try:
        return ctx.days.offset_of(_datetime_of(ctx, node, text).date())
    except ValueError:
        raise ctx.fail(
            node, _("date %(v)r is too far from the project start") % {"v": text}
        ) from None


def _mspdi_links(ctx: _MspdiContext, node: _Node, known: set[Uid]) -> Iterator[LinkRow]:
    """The <PredecessorLink> elements of one task."""
    succ = _int_of(ctx, node, "UID", None)
    if succ not in known:
        return
    for link in node.findall("PredecessorLink"):
        if link.value("CrossProject") == "1":
            continue
        pred = _int_of(ctx, link, "PredecessorUID", None)
        if pred is None or pred not in known:
            raise ctx.fail(link, _("predecessor UID %(uid)s is not a task") % {"uid": pred})
        code = _int_of(ctx, link, "Type", 1)
        if code is None or code not in MSPDI_LINK_TYPES:
            raise ctx.fail(link, _("link Type %(v)s is not 0, 1, 2 or 3") % {"v": code})
        yield LinkRow(pred, succ, MSPDI_LINK_TYPES[code], _lag_days(ctx, link))


def _lag_days(ctx: _MspdiContext, link: _Node) -> int:
    """LinkLag (tenths of a minute) in whole working days."""
    tenths = _int_of(ctx, link, "LinkLag", 0) or 0
    fmt = _int_of(ctx, link, "LagFormat", 7)
    if fmt in PERCENT_LAG_FORMATS:
        raise ctx.fail(link, _("lags given as a percentage are not supported"))
    per_day = 24 * 60 if fmt in ELAPSED_LAG_FORMATS else ctx.minutes_per_day
    return round(tenths / 10 / per_day)


def _mspdi_calendar(ctx: _MspdiContext, project: _Node) -> WorkCalendar:
    """The project calendar: non-working weekdays and exception days."""
    wanted = project.value("CalendarUID")
    calendars = _all(project.find("Calendars"), "Calendar")
    chosen = next((c for c in calendars if c.value("UID") == wanted), None)
    chosen = chosen or next((c for c in calendars if c.value("IsBaseCalendar") == "1"), None)
    if chosen is None:
        return WorkCalendar()
    weekend: set[int] = set()
    off: list[date] = []
    on: list[date] = []
    for day in _all(chosen.find("WeekDays"), "WeekDay"):
        kind = _int_of(ctx, day, "DayType", 0)
        if kind and 1 <= kind <= 7 and day.value("DayWorking") == "0":
            weekend.add((kind + 5) % 7)  # 1 = Sunday → 6, 2 = Monday → 0
        elif kind == 0:
            _exception_days(ctx, day, off, on)
    for exception in _all(chosen.find("Exceptions"), "Exception"):
        if exception.value("Type", "1") == "1":
            _exception_days(ctx, exception, off, on)
    name = chosen.value("Name") or "Standard"
    return WorkCalendar(name=name, weekend=frozenset(weekend)).with_exceptions(off=off, on=on)


def _exception_days(ctx: _MspdiContext, node: _Node, off: list[date], on: list[date]) -> None:
    """The days of one calendar exception (a TimePeriod with DayWorking 0 or 1)."""
    period = node.find("TimePeriod")
    if period is None:
        return
    first = _datetime_of(ctx, period, period.value("FromDate")).date()
    last = _datetime_of(ctx, period, period.value("ToDate")).date()
    if (last - first).days > 3660:
        raise ctx.fail(period, _("a calendar exception longer than ten years"))
    target = on if node.value("DayWorking") == "1" else off
    target.extend(first + timedelta(days=i) for i in range((last - first).days + 1))


def _mspdi_resources(
    ctx: _MspdiContext, node: _Node | None
) -> tuple[dict[str, int], dict[int, str]]:
    """Work resources: capacity in hundredths of a unit (MaxUnits 1.0 = 100), by name."""
    capacities: dict[str, int] = {}
    names: dict[int, str] = {}
    for resource in _all(node, "Resource"):
        uid = _int_of(ctx, resource, "UID", None)
        if uid is None or uid == 0 or resource.value("Type", "1") != "1":
            continue
        name = resource.value("Name") or f"R{uid}"
        name = name if name not in capacities else f"{name} ({uid})"
        names[uid] = name
        capacities[name] = round(_float_of(ctx, resource, "MaxUnits", 1.0) * 100)
    return capacities, names


def _mspdi_assignments(
    ctx: _MspdiContext, node: _Node | None, tasks: dict[Uid, TaskRow], names: dict[int, str]
) -> None:
    """Assignment units (1.0 = 100) added to the tasks' demands."""
    for assignment in _all(node, "Assignment"):
        task = tasks.get(_int_of(ctx, assignment, "TaskUID", -1) or -1)
        name = names.get(_int_of(ctx, assignment, "ResourceUID", -1) or -1)
        if task is None or name is None:
            continue
        units = round(_float_of(ctx, assignment, "Units", 1.0) * 100)
        task.demands[name] = task.demands.get(name, 0) + units


def _int_of(ctx: _MspdiContext, node: _Node, tag: str, default: int | None) -> int | None:
    text = node.value(tag)
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        why = _("<%(tag)s> %(v)r is not a whole number") % {"tag": tag, "v": text}
        raise ctx.fail(node, why) from None


def _float_of(ctx: _MspdiContext, node: _Node, tag: str, default: float) -> float:
    text = node.value(tag)
    try:
        return float(text) if text else default
    except ValueError:
        why = _("<%(tag)s> %(v)r is not a number") % {"tag": tag, "v": text}
        raise ctx.fail(node, why) from None


def _datetime_of(ctx: _MspdiContext, node: _Node, text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        why = _("%(v)r is not a date like 2026-03-02T08:00:00") % {"v": text}
        raise ctx.fail(node, why) from None


def _optional_datetime(ctx: _MspdiContext, node: _Node, tag: str) -> datetime | None:
    text = node.value(tag)
    return _datetime_of(ctx, node, text) if text else None


def write_mspdi(
    data: ProjectData,
    *,
    schedule: Schedule | None = None,
    start: date | None = None,
    calendar: WorkCalendar | None = None,
) -> bytes:
    """MSPDI bytes that MS Project and ProjectLibre open (elements in the schema's order).

    Dates come from ``schedule`` (early dates) when given, else the tasks are placed at their
    CPM early dates computed here.
    """
    cal = calendar or data.calendar or WorkCalendar()
    first = start or data.start or date.today()
    days = cal.days(first)
    plan = schedule or data.network().schedule()
    dates = _plan_dates(data, plan, days)
    root = ET.Element("Project", xmlns=MSPDI_NS)
    _add(root, "SaveVersion", 14)
    _add(root, "Name", data.name or "Project")
    _add(root, "ScheduleFromStart", 1)
    _add(root, "StartDate", _stamp(days.date_of(plan.project_start), 8))
    _add(root, "CalendarUID", 1)
    _add(root, "MinutesPerDay", data.minutes_per_day)
    _add(root, "MinutesPerWeek", data.minutes_per_day * 5)
    _add(root, "DaysPerMonth", 20)
    _write_calendar(root, cal, days, plan)
    _write_tasks(root, data, dates)
    _write_resources(root, data)
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + body + b"\n"


def _plan_dates(
    data: ProjectData, plan: Schedule, days: WorkingDays
) -> dict[Uid, tuple[date, date, int]]:
    """Start date, last working day and duration of every task (summaries span their leaves)."""
    spans: dict[Any, tuple[int, int]] = dict(
        zip(
            plan.task_ids,
            zip(plan.early_start.tolist(), plan.early_finish.tolist(), strict=True),
            strict=True,
        )
    )
    leaves = {t.uid for t in data.leaves()}
    for summary, members in _leaves_under(data.tasks, leaves).items():
        inside = [spans[m] for m in members if m in spans]
        if inside and summary not in spans:
            spans[summary] = (min(s[0] for s in inside), max(s[1] for s in inside))
    uids = list(spans)
    starts = np.asarray([spans[u][0] for u in uids], np.int64)
    ends = np.asarray([spans[u][1] for u in uids], np.int64)
    first, last = days.to_dates(starts), days.finish_dates(starts, ends)
    return {
        uid: (first[i].item(), last[i].item(), int(ends[i] - starts[i]))
        for i, uid in enumerate(uids)
    }


def _write_calendar(root: ET.Element, cal: WorkCalendar, days: WorkingDays, plan: Schedule) -> None:
    """The Standard calendar: weekdays, and exceptions over the plan's years."""
    calendars = ET.SubElement(root, "Calendars")
    node = ET.SubElement(calendars, "Calendar")
    for tag, value in (("UID", 1), ("Name", cal.name), ("IsBaseCalendar", 1)):
        _add(node, tag, value)
    _add(node, "BaseCalendarUID", -1)
    weekdays = ET.SubElement(node, "WeekDays")
    for day_type in range(1, 8):
        weekday = ET.SubElement(weekdays, "WeekDay")
        working = (day_type + 5) % 7 not in cal.weekend
        _add(weekday, "DayType", day_type)
        _add(weekday, "DayWorking", int(working))
        if working:
            _working_times(weekday)
    first = days.date_of(plan.project_start)
    last = days.date_of(max(plan.makespan, plan.project_end, plan.project_start))
    exceptions = ET.SubElement(node, "Exceptions")
    holidays, worked = cal.exceptions(date(first.year, 1, 1), date(last.year, 12, 31))
    for day in sorted(holidays + worked):
        _exception(exceptions, day, working=day in worked)


def _exception(parent: ET.Element, day: date, *, working: bool) -> None:
    node = ET.SubElement(parent, "Exception")
    _add(node, "EnteredByOccurrences", 0)
    period = ET.SubElement(node, "TimePeriod")
    _add(period, "FromDate", _stamp(day, 0))
    _add(period, "ToDate", f"{day.isoformat()}T23:59:00")
    _add(node, "Occurrences", 1)
    _add(node, "Name", "Working day" if working else "Holiday")
    _add(node, "Type", 1)
    _add(node, "DayWorking", int(working))
    if working:
        _working_times(node)


def _working_times(parent: ET.Element) -> None:
    times = ET.SubElement(parent, "WorkingTimes")
    for start, end in (("08:00:00", "12:00:00"), ("13:00:00", "17:00:00")):
        slot = ET.SubElement(times, "WorkingTime")
        _add(slot, "FromTime", start)
        _add(slot, "ToTime", end)


def _write_tasks(
    root: ET.Element, data: ProjectData, dates: dict[Uid, tuple[date, date, int]]
) -> None:
    """<Tasks>, each with its links; UIDs that are not whole numbers are renumbered."""
    uids = _mspdi_uids(data)
    preds: dict[Uid, list[LinkRow]] = {}
    for link in data.links:
        preds.setdefault(link.succ, []).append(link)
    tasks = ET.SubElement(root, "Tasks")
    parents = _parents(data.tasks)
    for position, task in enumerate(data.tasks, start=1):
        first, last, duration = dates.get(task.uid, (date.today(), date.today(), task.duration))
        summary = task.summary or task.uid in parents
        node = ET.SubElement(tasks, "Task")
        for tag, value in (
            ("UID", uids[task.uid]), ("ID", position), ("Name", task.name or str(task.uid)),
            ("Type", 1), ("IsNull", 0), ("WBS", task.wbs or position),
            ("OutlineNumber", task.wbs or position), ("OutlineLevel", task.outline_level),
            ("Start", _stamp(first, 8)),
            ("Finish", _stamp(first, 8) if duration == 0 else _stamp(last, 17)),
            ("Duration", _iso_duration(duration * data.minutes_per_day)),
            ("DurationFormat", 7), ("Milestone", int(duration == 0 and not summary)),
            ("Summary", int(summary)),
        ):  # fmt: skip
            _add(node, tag, value)
        _write_constraint(node, task, dates)
        for link in preds.get(task.uid, []):
            _write_link(node, link, uids, data.minutes_per_day)


def _write_constraint(
    node: ET.Element, task: TaskRow, dates: dict[Uid, tuple[date, date, int]]
) -> None:
    """Start-no-earlier is written as ConstraintType 4 at the task's planned start."""
    if task.start_no_earlier is not None and task.uid in dates:
        _add(node, "ConstraintType", 4)
        _add(node, "ConstraintDate", _stamp(dates[task.uid][0], 8))
    else:
        _add(node, "ConstraintType", 0)


def _write_link(
    node: ET.Element, link: LinkRow, uids: dict[Uid, int], minutes_per_day: int
) -> None:
    pred = ET.SubElement(node, "PredecessorLink")
    _add(pred, "PredecessorUID", uids[link.pred])
    _add(pred, "Type", MSPDI_LINK_CODES[link.type])
    _add(pred, "CrossProject", 0)
    _add(pred, "LinkLag", link.lag * minutes_per_day * 10)
    _add(pred, "LagFormat", 7)


def _write_resources(root: ET.Element, data: ProjectData) -> None:
    """<Resources> and <Assignments>; MSPDI units are fractions of a resource (1.0 = one)."""
    names, _need, capacities = data.demand_matrix()
    scale = data.unit_scale
    resources = ET.SubElement(root, "Resources")
    for uid, (name, capacity) in enumerate(zip(names, capacities, strict=True), start=1):
        node = ET.SubElement(resources, "Resource")
        for tag, value in (("UID", uid), ("ID", uid), ("Name", name), ("Type", 1),
                           ("MaxUnits", f"{capacity / scale:.2f}")):  # fmt: skip
            _add(node, tag, value)
    assignments = ET.SubElement(root, "Assignments")
    uids = _mspdi_uids(data)
    number = 0
    for task in data.tasks:
        for name, units in task.demands.items():
            number += 1
            node = ET.SubElement(assignments, "Assignment")
            for tag, value in (("UID", number), ("TaskUID", uids[task.uid]),
                               ("ResourceUID", names.index(name) + 1),
                               ("Units", f"{units / scale:.2f}")):  # fmt: skip
                _add(node, tag, value)


def _mspdi_uids(data: ProjectData) -> dict[Uid, int]:
    """Whole-number UIDs: kept when every task has one (and none is 0), else 1..n."""
    if all(isinstance(t.uid, int) and t.uid > 0 for t in data.tasks):
        return {t.uid: int(t.uid) for t in data.tasks}
    return {t.uid: i for i, t in enumerate(data.tasks, start=1)}


def _iso_duration(minutes: int) -> str:
    return f"PT{minutes // 60}H{minutes % 60}M0S"


def _add(parent: ET.Element, tag: str, value: object) -> None:
    ET.SubElement(parent, tag).text = str(value)


def _stamp(day: date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00"


# ---------------------------------------------------------------- CSV task format

CSV_COLUMNS = (
    "uid", "name", "wbs", "duration_days", "predecessors", "resources", "start_no_earlier",
    "finish_no_later",
)  # fmt: skip
PREDECESSOR = re.compile(r"^(?P<uid>.+?)(?P<type>FS|SS|FF|SF)?(?:(?P<lag>[+-]\d+)d?)?$")
PERCENT_UNITS = re.compile(r"^\s*#\s*units\s*:\s*percent\s*$", re.IGNORECASE)
DEMAND = re.compile(r"^(?P<name>[^:=*]+?)\s*(?:[:=*]\s*(?P<units>\d+))?$")


def read_csv(path: Path) -> ProjectData:
    """Read the CSV task format (see the module's documentation)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            why = _("the file is neither UTF-8 nor GB18030 text")
            raise FormatError(path.name, "", why) from None
    return parse_csv(text, path.name)


def parse_csv(text: str, source: str = "tasks.csv") -> ProjectData:
    """Parse CSV task-format text (see :func:`read_csv`)."""
    capacities: dict[str, int] = {}
    lines: list[tuple[int, str]] = []
    scale = 1
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            _capacity_comment(line, number, source, capacities)
            scale = 100 if PERCENT_UNITS.match(line) else scale
        elif line.strip():
            lines.append((number, line))
    if not lines:
        raise FormatError(source, "", _("the file has no header row"))
    rows = list(csv.reader(io.StringIO("\n".join(line for _n, line in lines))))
    header = [h.strip().lower() for h in rows[0]]
    for needed in ("uid", "duration_days"):
        if needed not in header:
            raise FormatError(
                source, f"line {lines[0][0]}", _("no %(col)r column") % {"col": needed}
            )
    data = ProjectData(name=Path(source).stem, capacities=capacities, unit_scale=scale)
    seen: set[Uid] = set()
    for (number, _line), row in zip(lines[1:], rows[1:], strict=True):
        cells = dict(zip(header, (c.strip() for c in row), strict=False))
        task, links = _csv_task(cells, f"line {number}", source)
        if task.uid in seen:
            raise FormatError(
                source, f"line {number}", _("uid %(uid)s appears twice") % {"uid": task.uid}
            )
        seen.add(task.uid)
        data.tasks.append(task)
        data.links.extend(links)
    _check_csv_links(data, source)
    return data


def _capacity_comment(line: str, number: int, source: str, out: dict[str, int]) -> None:
    """``# capacity: dev=2, qa=1``."""
    body = line.lstrip()[1:].strip()
    if not body.lower().startswith("capacity"):
        return
    for item in re.split(r"[,;]", body.split(":", 1)[-1]):
        if not item.strip():
            continue
        name, _sep, units = item.partition("=")
        if not units.strip().isdigit():
            raise FormatError(
                source,
                f"line {number}",
                _("capacity %(v)r is not NAME=UNITS") % {"v": item.strip()},
            )
        out[name.strip()] = int(units)


def _csv_task(cells: dict[str, str], where: str, source: str) -> tuple[TaskRow, list[LinkRow]]:
    """One CSV row as a task and its incoming links."""
    uid = _csv_uid(cells.get("uid", ""), where, source)
    wbs = cells.get("wbs", "")
    task = TaskRow(
        uid=uid,
        name=cells.get("name", ""),
        duration=_whole(cells.get("duration_days", ""), "duration_days", where, source, minimum=0),
        wbs=wbs,
        outline_level=wbs.count(".") + 1 if wbs else 1,
        start_no_earlier=_optional_whole(cells, "start_no_earlier", where, source),
        finish_no_later=_optional_whole(cells, "finish_no_later", where, source),
        demands=_demands(cells.get("resources", ""), where, source),
    )  # fmt: skip
    task.milestone = task.duration == 0
    links = [
        _predecessor(item, uid, where, source) for item in _items(cells.get("predecessors", ""))
    ]
    return task, links


def _items(text: str) -> list[str]:
    return [item for item in re.split(r"[;,\s]+", text) if item]


def _csv_uid(text: str, where: str, source: str) -> Uid:
    if not text:
        raise FormatError(source, where, _("the uid is empty"))
    return int(text) if text.isdigit() else text


def _predecessor(item: str, succ: Uid, where: str, source: str) -> LinkRow:
    """``3FS+2`` → LinkRow(3, succ, "FS", 2)."""
    match = PREDECESSOR.match(item)
    if not match:
        raise FormatError(source, where, _("predecessor %(v)r is not like 3FS+2") % {"v": item})
    pred = match.group("uid")
    return LinkRow(
        int(pred) if pred.isdigit() else pred, succ, match.group("type") or "FS",
        int(match.group("lag") or 0),
    )  # fmt: skip


def _demands(text: str, where: str, source: str) -> dict[str, int]:
    """``dev:2;qa`` → {"dev": 2, "qa": 1}."""
    out: dict[str, int] = {}
    for item in re.split(r"[;,]", text):
        if not item.strip():
            continue
        match = DEMAND.match(item.strip())
        if not match:
            raise FormatError(source, where, _("resource %(v)r is not like dev:2") % {"v": item})
        name = match.group("name").strip()
        out[name] = out.get(name, 0) + int(match.group("units") or 1)
    return out


def _whole(text: str, column: str, where: str, source: str, *, minimum: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise FormatError(
            source, f"{where}, {column}", _("%(v)r is not a whole number of days") % {"v": text}
        ) from None
    if minimum is not None and value < minimum:
        raise FormatError(source, f"{where}, {column}", _("%(v)s is negative") % {"v": value})
    return value


def _optional_whole(cells: dict[str, str], column: str, where: str, source: str) -> int | None:
    text = cells.get(column, "")
    return _whole(text, column, where, source) if text else None


def _check_csv_links(data: ProjectData, source: str) -> None:
    known = {t.uid for t in data.tasks}
    for link in data.links:
        if link.pred not in known:
            raise FormatError(
                source,
                f"uid {link.succ}",
                _("predecessor %(p)s is not a task in the file") % {"p": link.pred},
            )  # fmt: skip


def write_csv(data: ProjectData) -> str:
    """The plan in the CSV task format (capacities as a ``# capacity:`` comment)."""
    out = io.StringIO()
    if data.unit_scale == 100:
        out.write("# units: percent\n")
    if data.capacities:
        out.write("# capacity: " + ", ".join(f"{k}={v}" for k, v in data.capacities.items()) + "\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    preds: dict[Uid, list[str]] = {}
    for link in data.links:
        lag = f"{link.lag:+d}" if link.lag else ""
        preds.setdefault(link.succ, []).append(f"{link.pred}{link.type}{lag}")
    for task in data.tasks:
        demands = ";".join(f"{k}:{v}" for k, v in task.demands.items())
        writer.writerow([
            task.uid, task.name, task.wbs, task.duration, ";".join(preds.get(task.uid, [])),
            demands, _blank(task.start_no_earlier), _blank(task.finish_no_later),
        ])  # fmt: skip
    return out.getvalue()


def _blank(value: int | None) -> str:
    return "" if value is None else str(value)


# ---------------------------------------------------------------- PSPLIB .sm


def read_psplib(path: Path) -> ProjectData:
    """Read a single-mode PSPLIB ``.sm`` instance with the ``psplib`` parser."""
    import psplib

    try:
        instance = psplib.parse(path, instance_format="psplib")
    except (ValueError, IndexError) as exc:
        raise FormatError(path.name, "", _("not a PSPLIB .sm file (%(e)s)") % {"e": exc}) from None
    names = [f"R{r + 1}" for r in range(len(instance.resources))]
    data = ProjectData(name=path.stem)
    for r, resource in enumerate(instance.resources):
        if resource.renewable:
            data.capacities[names[r]] = int(resource.capacity)
    for job, activity in enumerate(instance.activities, start=1):
        if len(activity.modes) != 1:
            raise FormatError(
                path.name, f"job {job}", _("has %(n)s modes: only single-mode (.sm) instances "
                                           "are supported") % {"n": len(activity.modes)},
            )  # fmt: skip
        mode = activity.modes[0]
        demands = {
            names[r]: int(q)
            for r, q in enumerate(mode.demands)
            if q and names[r] in data.capacities
        }
        duration = int(mode.duration)
        data.tasks.append(
            TaskRow(job, f"Job {job}", duration, milestone=duration == 0, demands=demands)
        )
        data.links.extend(LinkRow(job, s + 1) for s in activity.successors)
    return data


# ---------------------------------------------------------------- shared


def _parents(tasks: list[TaskRow]) -> set[Uid]:
    """Tasks followed by deeper ones in outline order, or whose WBS code prefixes another's."""
    parents: set[Uid] = set()
    for here, after in itertools.pairwise(tasks):
        if after.outline_level > here.outline_level:
            parents.add(here.uid)
    codes = {t.wbs: t.uid for t in tasks if t.wbs}
    for task in tasks:
        if task.wbs and "." in task.wbs:
            parent = codes.get(task.wbs.rsplit(".", 1)[0])
            if parent is not None:
                parents.add(parent)
    return parents


def _leaves_under(tasks: list[TaskRow], leaves: set[Uid]) -> dict[Uid, list[Uid]]:
    """For each summary task, the leaf tasks under it (by WBS code when every task has one,
    else by outline level in file order)."""
    under: dict[Uid, list[Uid]] = {}
    if tasks and all(t.wbs for t in tasks):
        codes = {t.wbs: t.uid for t in tasks}
        for task in tasks:
            if task.uid in leaves:
                parts = task.wbs.split(".")
                for k in range(1, len(parts)):
                    parent = codes.get(".".join(parts[:k]))
                    if parent is not None:
                        under.setdefault(parent, []).append(task.uid)
        return under
    stack: list[TaskRow] = []
    for row in tasks:
        while stack and stack[-1].outline_level >= row.outline_level:
            stack.pop()
        if row.uid in leaves:
            for parent_row in stack:
                under.setdefault(parent_row.uid, []).append(row.uid)
        else:
            stack.append(row)
    return under


def _constraints(data: ProjectData, under: dict[Uid, list[Uid]]) -> list[tuple[Uid, str, int]]:
    """Constraints of the leaf tasks; a summary's constraint applies to every leaf under it."""
    out: list[tuple[Uid, str, int]] = []
    for task in data.tasks:
        for uid in under.get(task.uid, [task.uid]):
            if task.start_no_earlier is not None:
                out.append((uid, "start_no_earlier", task.start_no_earlier))
            if task.finish_no_later is not None:
                out.append((uid, "finish_no_later", task.finish_no_later))
    return out


def link_type_name(value: str) -> str:
    """Canonical link type name (raises for an unknown one)."""
    name = value.strip().upper()
    if name not in LINK_TYPES:
        raise ScheduleError(
            _("Unknown link type %(type)r: use FS, SS, FF or SF.") % {"type": value}
        )
    return name
