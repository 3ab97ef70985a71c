"""Critical path method: hand-checked networks, a published textbook example, loops, changes."""

from __future__ import annotations

import numpy as np
import pytest

from clientops.projects.scheduling import Constraint, Network, ScheduleCycle, ScheduleError

pytestmark = pytest.mark.nodb  # touches no database: runs once, in the SQLite pass

# A network using every link type, positive and negative lags, and a start that would fall
# before the project start (F). Worked by hand, in working days from day 0:
#   A(4)                      ES 0  EF 4
#   B(3)  A→B FS+2           ES 6  EF 9        (4 + 2)
#   C(5)  A→C SS+1           ES 1  EF 6
#   D(2)  B→D FF−1, C→D FS−2 ES 6  EF 8        (finish ≥ 9−1 → start ≥ 6; 6−2 = 4 < 6)
#   F(6)  C→F SF+3           ES 0  EF 6        (finish ≥ 1+3 → start ≥ −2, held at day 0)
#   E(0)  D→E FS, F→E FF+1   ES 8  EF 8        (8; finish ≥ 6+1 = 7)
# The project ends on day 9 (B). Backward from 9: E LS 9; F LF 8 (9−1 via FF); D LF 9;
# B LF 9 (min(9, 9+1)); C LF 9 (LS_D+2 = 9; via SF: start ≤ 8−3 = 5 → LF ≤ 10); A LF 4 (LS_B−2).
HAND = {
    "ids": ["A", "B", "C", "D", "E", "F"],
    "durations": [4, 3, 5, 2, 0, 6],
    "links": [
        ("A", "B", "FS", 2),
        ("A", "C", "SS", 1),
        ("B", "D", "FF", -1),
        ("C", "D", "FS", -2),
        ("C", "F", "SF", 3),
        ("D", "E", "FS", 0),
        ("F", "E", "FF", 1),
    ],
}


def _hand(**kwargs: object) -> Network:
    return Network.build(HAND["ids"], HAND["durations"], HAND["links"], **kwargs)  # type: ignore[arg-type]


def _by_id(values: np.ndarray, ids: list[str]) -> dict[str, int]:
    return dict(zip(ids, values.tolist(), strict=True))


def test_all_four_link_types_with_leads_and_lags_match_the_hand_computation() -> None:
    plan = _hand().schedule()
    ids = HAND["ids"]
    assert plan.makespan == 9
    assert _by_id(plan.early_start, ids) == {"A": 0, "B": 6, "C": 1, "D": 6, "E": 8, "F": 0}
    assert _by_id(plan.early_finish, ids) == {"A": 4, "B": 9, "C": 6, "D": 8, "E": 8, "F": 6}
    assert _by_id(plan.late_start, ids) == {"A": 0, "B": 6, "C": 4, "D": 7, "E": 9, "F": 2}
    assert _by_id(plan.late_finish, ids) == {"A": 4, "B": 9, "C": 9, "D": 9, "E": 9, "F": 8}
    assert _by_id(plan.total_float, ids) == {"A": 0, "B": 0, "C": 3, "D": 1, "E": 1, "F": 2}
    # Free float: C can slip 2 days before it pushes D (FS−2) or F (SF+3); F slips 1 before E.
    assert _by_id(plan.free_float, ids) == {"A": 0, "B": 0, "C": 2, "D": 0, "E": 1, "F": 1}
    assert _by_id(plan.critical, ids) == {
        "A": True, "B": True, "C": False, "D": False, "E": False, "F": False
    }  # fmt: skip
    assert plan.critical_path() == [["A", "B"]]


def test_a_deadline_shows_as_negative_or_extra_float_and_moves_nothing() -> None:
    tight = _hand().schedule(deadline=8)
    assert tight.early_start.tolist() == _hand().schedule().early_start.tolist()
    assert tight.total_float.tolist() == [-1, -1, 2, 0, 0, 1]
    assert tight.critical.tolist() == [True, True, False, False, False, False]
    loose = _hand().schedule(deadline=12)
    assert loose.total_float.tolist() == [3, 3, 6, 4, 4, 5]
    # The longest path stays critical when the deadline leaves room.
    assert loose.critical_path() == [["A", "B"]]


def test_constraints_start_no_earlier_moves_the_plan_finish_no_later_gives_negative_float() -> None:
    plan = _hand(
        constraints=[Constraint("F", "start_no_earlier", 3), ("D", "finish_no_later", 7)]
    ).schedule()
    ids = HAND["ids"]
    assert _by_id(plan.early_start, ids)["F"] == 3
    assert _by_id(plan.early_start, ids)["E"] == 10  # finish ≥ 9 + 1
    assert plan.makespan == 10
    assert _by_id(plan.total_float, ids)["D"] == -1  # must finish by 7, can only finish by 8
    # E is now driven by F, whose start comes from its own constraint: the chain starts at F.
    assert ["F", "E"] in plan.critical_path()


def test_the_project_start_holds_every_task() -> None:
    plan = _hand().schedule(start_no_earlier=3)
    assert plan.early_start.min() == 3
    assert plan.makespan == 12
    assert plan.total_float.min() == 0


# Heizer, Render & Munson, "Operations Management" (Pearson), chapter 3 "Project Management",
# the Milwaukee Paper Manufacturing example: activities, weeks, predecessors, and the published
# ES, EF, LS, LF and slack; the critical path is A-C-E-G-H, 15 weeks.
MILWAUKEE = {
    "A": (2, [], 0, 2, 0, 2, 0),
    "B": (3, [], 0, 3, 1, 4, 1),
    "C": (2, ["A"], 2, 4, 2, 4, 0),
    "D": (4, ["A", "B"], 3, 7, 4, 8, 1),
    "E": (4, ["C"], 4, 8, 4, 8, 0),
    "F": (3, ["C"], 4, 7, 10, 13, 6),
    "G": (5, ["D", "E"], 8, 13, 8, 13, 0),
    "H": (2, ["F", "G"], 13, 15, 13, 15, 0),
}


def test_published_textbook_example_milwaukee_paper() -> None:
    ids = list(MILWAUKEE)
    links = [(p, task, "FS", 0) for task, row in MILWAUKEE.items() for p in row[1]]
    plan = Network.build(ids, [row[0] for row in MILWAUKEE.values()], links).schedule()
    assert plan.makespan == 15
    for i, (task, (_d, _p, es, ef, ls, lf, slack)) in enumerate(MILWAUKEE.items()):
        got = (
            plan.early_start[i], plan.early_finish[i], plan.late_start[i], plan.late_finish[i],
            plan.total_float[i],
        )  # fmt: skip
        assert got == (es, ef, ls, lf, slack), task
    assert plan.critical_path() == [["A", "C", "E", "G", "H"]]


def test_a_loop_is_refused_naming_its_tasks_in_order() -> None:
    with pytest.raises(ScheduleCycle) as caught:
        Network.build(
            ["kickoff", "design", "build", "review"],
            [1, 3, 5, 1],
            [
                ("kickoff", "design", "FS", 0),
                ("design", "build", "SS", 2),
                ("build", "review", "FS", 0),
                ("review", "design", "FF", 0),
            ],
        )
    assert caught.value.loop == ["design", "build", "review", "design"]
    assert "design → build → review → design" in str(caught.value)


def test_a_task_linked_to_itself_is_a_loop() -> None:
    with pytest.raises(ScheduleCycle) as caught:
        Network.build(["a"], [1], [("a", "a", "FS", 0)])
    assert caught.value.loop == ["a", "a"]


@pytest.mark.parametrize(
    ("durations", "links", "message"),
    [
        ([1, -2], [], "negative duration"),
        ([1, 1], [("a", "zz", "FS", 0)], "unknown task zz"),
        ([1, 1], [("a", "b", "XX", 0)], "Unknown link type"),
    ],
)
def test_bad_input_is_refused_with_the_reason(
    durations: list[int], links: list[tuple[str, str, str, int]], message: str
) -> None:
    with pytest.raises(ScheduleError, match=message):
        Network.build(["a", "b"], durations, links)


def test_a_prepared_network_reschedules_after_a_drag_without_rebuilding() -> None:
    network = _hand()
    moved = network.with_changes(durations={"C": 9}, start_no_earlier={"B": 7})
    assert moved.levels is network.levels  # the topological work is shared
    plan = moved.schedule()
    fresh = Network.build(
        HAND["ids"], [4, 3, 9, 2, 0, 6], HAND["links"], [("B", "start_no_earlier", 7)]
    ).schedule()
    assert plan.early_start.tolist() == fresh.early_start.tolist()
    assert plan.late_start.tolist() == fresh.late_start.tolist()
    # The original network is untouched, and removing the constraint again restores it.
    assert network.schedule().makespan == 9
    assert (
        moved.with_changes(durations={"C": 5}, start_no_earlier={"B": None}).schedule().makespan
        == 9
    )


def test_an_empty_plan_and_a_plan_without_links() -> None:
    assert Network.build([], []).schedule().makespan == 0
    plan = Network.build(["x", "y"], [3, 0]).schedule()
    assert plan.makespan == 3
    assert plan.critical.tolist() == [True, False]
    assert plan.critical_path() == [["x"]]
    assert plan.free_float.tolist() == [0, 3]


def test_records_carry_exactly_the_promised_keys() -> None:
    rows = _hand().schedule().records()
    assert rows[0] == {
        "uid": "A", "early_start": 0, "early_finish": 4, "late_start": 0, "late_finish": 4,
        "total_float": 0, "critical": True,
    }  # fmt: skip
