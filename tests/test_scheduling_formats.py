"""Plan files: MS Project XML (MSPDI) in and out, the CSV task format, PSPLIB, and bad files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from clientops.projects.scheduling.formats import (
    FormatError,
    parse_csv,
    parse_mspdi,
    read,
    write_csv,
    write_mspdi,
)

pytestmark = pytest.mark.nodb  # touches no database: runs once, in the SQLite pass

DATA = Path(__file__).parent / "data" / "scheduling"


def _links(data: object) -> list[tuple[object, object, str, int]]:
    return [(link.pred, link.succ, link.type, link.lag) for link in data.links]  # type: ignore[attr-defined]


def test_ms_project_file_tasks_links_lags_and_resources() -> None:
    data = read(DATA / "ms_project_2016.xml")
    assert data.name == "Customer onboarding portal"
    assert data.start == date(2026, 3, 2)
    assert [t.uid for t in data.leaves()] == [2, 3, 4, 6, 7, 8, 9]  # summaries 1 and 5 left out
    durations = {t.uid: t.duration for t in data.tasks}
    assert durations == {1: 8, 2: 5, 3: 3, 4: 0, 5: 10, 6: 10, 7: 8, 8: 4, 9: 0}
    # Type 0=FF 1=FS 2=SF 3=SS; LinkLag in tenths of a minute over 480-minute days.
    assert _links(data) == [
        (2, 3, "FS", 0), (3, 4, "FS", 0), (1, 5, "FS", 0), (3, 6, "SS", 2), (6, 7, "FF", -1),
        (7, 8, "FS", -2), (6, 8, "SF", 12), (8, 9, "FS", 0),
    ]  # fmt: skip
    # Start no earlier than 1 April: working day 22, counting the calendar's days off.
    test = next(t for t in data.tasks if t.uid == 8)
    assert test.start_no_earlier == 22
    assert data.capacities == {"Dev team": 200, "QA": 100}
    assert test.demands == {"QA": 100}
    assert next(t for t in data.tasks if t.uid == 2).demands == {"Dev team": 50}
    assert data.calendar is not None and not data.calendar.is_working(date(2026, 4, 6))


def test_ms_project_file_schedules_as_worked_by_hand() -> None:
    plan = read(DATA / "ms_project_2016.xml").network().schedule()
    rows = {r["uid"]: r for r in plan.records()}
    # The summary link Design → Build reaches every task under both; Back end waits for
    # Architecture (FS via the summary) rather than its own SS+2.
    assert [rows[u]["early_start"] for u in (2, 3, 4, 6, 7, 8, 9)] == [0, 5, 8, 8, 9, 22, 26]
    assert [rows[u]["total_float"] for u in (2, 3, 4, 6, 7, 8, 9)] == [6, 6, 6, 6, 7, 0, 0]
    assert plan.makespan == 26
    assert plan.critical_path() == [[8, 9]]  # the acceptance test is pinned by its constraint


def test_legacy_calendar_exceptions_and_a_working_saturday() -> None:
    data = read(DATA / "projectlibre_legacy_calendar.xml")
    assert data.calendar is not None
    assert data.calendar.is_working(date(2026, 2, 14))  # Saturday made a working day
    assert not data.calendar.is_working(date(2026, 2, 16))
    assert _links(data)[1] == (2, 3, "SS", 1)  # 1440 elapsed minutes = one day
    plan = data.network().schedule()
    days = data.calendar.days(date(2026, 2, 9))
    finish = days.finish_dates(plan.early_start, plan.early_finish)
    # Data migration (working days 2..6) runs 11–14 February, the Saturday included, stops for
    # the break (15–23 February) and ends on Tuesday the 24th.
    assert str(finish[1]) == "2026-02-24"


def test_mspdi_round_trip_keeps_the_plan() -> None:
    original = read(DATA / "ms_project_2016.xml")
    again = parse_mspdi(write_mspdi(original), "again.xml")
    assert [(t.uid, t.name, t.duration, t.wbs) for t in again.tasks] == [
        (t.uid, t.name, t.duration, t.wbs) for t in original.tasks
    ]
    assert _links(again) == _links(original)
    assert again.capacities == original.capacities
    assert [t.demands for t in again.tasks] == [t.demands for t in original.tasks]
    assert again.start == original.start
    before = original.network().schedule()
    after = again.network().schedule()
    assert after.early_start.tolist() == before.early_start.tolist()
    assert after.late_start.tolist() == before.late_start.tolist()


def test_written_mspdi_carries_dates_and_calendar_exceptions() -> None:
    text = write_mspdi(read(DATA / "ms_project_2016.xml")).decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>')
    assert '<Project xmlns="http://schemas.microsoft.com/project">' in text
    assert "<Start>2026-04-01T08:00:00</Start>" in text  # the acceptance test
    assert "<Finish>2026-04-07T17:00:00</Finish>" in text  # skips the 6 April holiday
    assert "<FromDate>2026-04-06T00:00:00</FromDate>" in text


def test_csv_format_with_every_column() -> None:
    data = parse_csv(
        "# capacity: dev=2, qa=1\n"
        "uid,name,duration_days,predecessors,resources,start_no_earlier\n"
        "1,Design,5,,dev,\n"
        "2,Build,10,1FS,dev:2,\n"
        "3,Test plan,3,1SS+2d,qa,4\n"
        '4,Test,4,"2FS-1;3FF",qa,\n'
        "5,Go-live,0,4,,\n"
    )
    assert _links(data) == [
        (1, 2, "FS", 0), (1, 3, "SS", 2), (2, 4, "FS", -1), (3, 4, "FF", 0), (4, 5, "FS", 0)
    ]  # fmt: skip
    assert data.capacities == {"dev": 2, "qa": 1}
    assert data.tasks[1].demands == {"dev": 2}
    assert data.tasks[2].start_no_earlier == 4
    assert data.network().schedule().makespan == 18
    again = parse_csv(write_csv(data))
    assert _links(again) == _links(data)
    assert [(t.uid, t.duration, t.demands) for t in again.tasks] == [
        (t.uid, t.duration, t.demands) for t in data.tasks
    ]


def test_units_survive_a_trip_between_csv_and_ms_project() -> None:
    from_csv = parse_csv("# capacity: dev=2\nuid,duration_days,resources\nA,2,dev\nB,3,dev:2\n")
    xml = write_mspdi(from_csv, start=date(2026, 3, 2)).decode()
    assert "<MaxUnits>2.00</MaxUnits>" in xml and "<Units>1.00</Units>" in xml
    back = parse_mspdi(xml.encode())
    assert back.capacities == {"dev": 200} and back.tasks[1].demands == {"dev": 200}
    # MS Project's percent units go to CSV with a "# units: percent" line, and come back.
    again = parse_csv(write_csv(back))
    assert again.unit_scale == 100 and again.capacities == {"dev": 200}


def test_csv_wbs_codes_make_summaries() -> None:
    data = parse_csv("uid,wbs,duration_days,predecessors\nP,1,0,\nA,1.1,2,\nB,1.2,3,A\nC,2,1,P\n")
    assert [t.uid for t in data.leaves()] == ["A", "B", "C"]
    plan = data.network().schedule()
    assert dict(zip(plan.task_ids, plan.early_start.tolist(), strict=True)) == {
        "A": 0,
        "B": 2,
        "C": 5,
    }


def test_psplib_file_is_read_with_the_psplib_parser() -> None:
    data = read(DATA / "j301_1.sm")
    assert len(data.tasks) == 32
    assert data.capacities == {"R1": 12, "R2": 13, "R3": 4, "R4": 12}
    assert data.tasks[1].duration == 8 and data.tasks[1].demands == {"R1": 4}
    assert _links(data)[:3] == [(1, 2, "FS", 0), (1, 3, "FS", 0), (1, 4, "FS", 0)]


@pytest.mark.parametrize(
    ("text", "where", "why"),
    [
        ("<Project><Tasks><Task><UID>1</UID>", "line 1", "not well-formed XML"),
        ("<Workbook/>", "line 1", "not <Project>"),
        (
            "<Project>\n<Tasks>\n<Task><UID>1</UID><Duration>five days</Duration></Task>"
            "</Tasks></Project>",
            "line 3, <Task>",
            "'five days' is not a duration",
        ),
        (
            "<Project><Tasks>\n<Task><UID>1</UID>\n<PredecessorLink><PredecessorUID>7"
            "</PredecessorUID></PredecessorLink></Task></Tasks></Project>",
            "line 3, <PredecessorLink>",
            "predecessor UID 7 is not a task",
        ),
        (
            '<!DOCTYPE p [<!ENTITY x "y">]><Project/>',
            "line 1",
            "DTDs are not allowed",
        ),
    ],
)
def test_bad_mspdi_names_the_line_and_the_reason(text: str, where: str, why: str) -> None:
    with pytest.raises(FormatError) as caught:
        parse_mspdi(text.encode(), "plan.xml")
    assert caught.value.source == "plan.xml"
    assert caught.value.where.startswith(where)
    assert why in caught.value.why


@pytest.mark.parametrize(
    ("text", "where", "why"),
    [
        ("uid,name\n1,a\n", "line 1", "no 'duration_days' column"),
        ("uid,duration_days\n1,2\n2,two\n", "line 3, duration_days", "'two' is not a whole number"),
        ("uid,duration_days\n1,-2\n", "line 2, duration_days", "negative"),
        ("uid,duration_days,predecessors\n1,2,\n2,1,9FS\n", "uid 2", "predecessor 9 is not a task"),
        ("uid,duration_days\n1,2\n1,3\n", "line 3", "uid 1 appears twice"),
        ("# capacity: dev=two\nuid,duration_days\n1,2\n", "line 1", "not NAME=UNITS"),
        ("uid,duration_days,resources\n1,2,dev:x\n", "line 2", "not like dev:2"),
    ],
)
def test_bad_csv_names_the_line_and_the_reason(text: str, where: str, why: str) -> None:
    with pytest.raises(FormatError) as caught:
        parse_csv(text, "tasks.csv")
    assert caught.value.where == where
    assert why in caught.value.why


def test_unknown_extension_and_broken_psplib_file(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"unknown file type '\.mpp'"):
        read(tmp_path / "plan.mpp")
    broken = tmp_path / "broken.sm"
    broken.write_text("jobs (incl. supersource/sink ):  3\n")
    with pytest.raises(FormatError, match=r"not a PSPLIB \.sm file"):
        read(broken)


def test_gbk_csv_from_a_chinese_spreadsheet(tmp_path: Path) -> None:
    path = tmp_path / "计划.csv"
    path.write_bytes("uid,name,duration_days\n1,需求调研,3\n".encode("gbk"))
    assert read(path).tasks[0].name == "需求调研"
