"""Property tests on random acyclic plans: constraints honoured, float, critical chains, speed-free
agreement with a slow, obviously-correct relaxation."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientops.projects.scheduling import Network
from clientops.projects.scheduling.cpm import FF, FS, SF

pytestmark = pytest.mark.nodb  # touches no database: runs once, in the SQLite pass

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@dataclass
class Plan:
    durations: list[int]
    links: list[tuple[int, int, int, int]]  # pred, succ, type code, lag
    start_no_earlier: dict[int, int]

    def network(self) -> Network:
        n = len(self.durations)
        constraints = [(t, "start_no_earlier", d) for t, d in self.start_no_earlier.items()]
        return Network.build(range(n), self.durations, self.links, constraints)

    def offset(self, link: tuple[int, int, int, int]) -> int:
        p, s, kind, lag = link
        d = self.durations
        return lag + d[p] * (kind in (FS, FF)) - d[s] * (kind in (FF, SF))


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    """A random DAG: links only go from a lower to a higher rank, ranks shuffled into ids."""
    n = draw(st.integers(1, 40))
    rank = draw(st.permutations(range(n)))
    durations = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] < p[1])
    raw = draw(st.lists(pairs, max_size=3 * n)) if n > 1 else []
    links = [(rank[a], rank[b], draw(st.integers(0, 3)), draw(st.integers(-4, 6))) for a, b in raw]
    constrained = draw(st.lists(st.integers(0, n - 1), max_size=3, unique=True))
    snet = {t: draw(st.integers(0, 30)) for t in constrained}
    return Plan(durations, links, snet)


def _relaxed(plan: Plan) -> tuple[list[int], list[int], int]:
    """Early and late starts by repeated relaxation until nothing changes (slow, plain)."""
    n = len(plan.durations)
    early = [plan.start_no_earlier.get(t, 0) for t in range(n)]
    changed = True
    while changed:
        changed = False
        for link in plan.links:
            if early[link[0]] + plan.offset(link) > early[link[1]]:
                early[link[1]] = early[link[0]] + plan.offset(link)
                changed = True
    end = max(e + d for e, d in zip(early, plan.durations, strict=True))
    late = [end - d for d in plan.durations]
    changed = True
    while changed:
        changed = False
        for link in plan.links:
            if late[link[1]] - plan.offset(link) < late[link[0]]:
                late[link[0]] = late[link[1]] - plan.offset(link)
                changed = True
    return early, late, end


@SETTINGS
@given(plans())
def test_every_task_starts_no_earlier_than_its_constraints_allow(plan: Plan) -> None:
    result = plan.network().schedule()
    early = result.early_start
    assert early.min() >= 0
    for task, day in plan.start_no_earlier.items():
        assert early[task] >= day
    for link in plan.links:
        assert early[link[1]] >= early[link[0]] + plan.offset(link)
        assert result.late_start[link[1]] >= result.late_start[link[0]] + plan.offset(link)
    assert (result.late_finish <= result.makespan).all()


@SETTINGS
@given(plans())
def test_dates_agree_with_a_plain_relaxation(plan: Plan) -> None:
    result = plan.network().schedule()
    early, late, end = _relaxed(plan)
    assert result.early_start.tolist() == early
    assert result.late_start.tolist() == late
    assert result.makespan == end


@SETTINGS
@given(plans())
def test_float_is_never_negative_without_a_deadline(plan: Plan) -> None:
    result = plan.network().schedule()
    assert (result.total_float >= 0).all()
    assert (result.free_float >= 0).all()
    assert (result.free_float <= result.total_float).all()


@SETTINGS
@given(plans())
def test_the_critical_path_is_a_connected_chain_from_start_to_finish(plan: Plan) -> None:
    result = plan.network().schedule()
    chains = result.critical_path()
    assert chains, "a plan always has a critical chain"
    for chain in chains:
        first, last = chain[0], chain[-1]
        assert result.early_start[first] == max(0, plan.start_no_earlier.get(first, 0))
        assert result.early_finish[last] == result.makespan
        for before, after in itertools.pairwise(chain):
            tight = [
                link for link in plan.links
                if link[:2] == (before, after)
                and result.early_start[after] == result.early_start[before] + plan.offset(link)
            ]  # fmt: skip
            assert tight, (before, after)
        assert all(result.critical[t] and result.total_float[t] == 0 for t in chain)
    # When no start constraint exists, some chain starts on day 0.
    if not plan.start_no_earlier:
        assert any(result.early_start[c[0]] == 0 for c in chains)


@SETTINGS
@given(plans(), st.integers(0, 10))
def test_a_changed_duration_reschedules_like_a_fresh_network(plan: Plan, days: int) -> None:
    network = plan.network()
    task = len(plan.durations) // 2
    plan.durations[task] = days
    assert np.array_equal(
        network.with_changes(durations={task: days}).schedule().early_start,
        plan.network().schedule().early_start,
    )
