"""Resource levelling with CP-SAT: PSPLIB j30 optimum, generated instances, feasibility."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from clientops.projects.scheduling import Network
from clientops.projects.scheduling.formats import read
from clientops.projects.scheduling.levelling import (
    LevellingError,
    LevelResult,
    Unavailable,
    level,
    levelled_schedule,
)
from clientops.projects.scheduling.synthetic import random_rcpsp

pytestmark = pytest.mark.nodb  # touches no database: runs once, in the SQLite pass

DATA = Path(__file__).parent / "data" / "scheduling"
# Known optimal makespans from PSPLIB's j30 optimum list (j30opt.sm), see the README there.
J30_OPTIMUM = {"j301_1.sm": 43}


def _assert_feasible(
    network: Network, result: LevelResult, need: np.ndarray, capacities: list[int]
) -> None:
    """Capacities never exceeded on any day; every link holds; the end is the last finish."""
    starts = result.starts
    offsets = network.link_offsets()
    assert (starts[network.succ] >= starts[network.pred] + offsets).all()
    use = np.zeros((result.makespan + 1, len(capacities)), np.int64)
    for i, (s, d) in enumerate(zip(starts.tolist(), network.durations.tolist(), strict=True)):
        use[s : s + d] += need[i]
    assert (use <= np.asarray(capacities)).all()
    assert result.makespan == int((starts + network.durations).max())


@pytest.mark.parametrize("name", sorted(J30_OPTIMUM))
def test_psplib_j30_reaches_the_published_optimum(name: str) -> None:
    data = read(DATA / name)
    network = data.network()
    assert network.schedule().makespan == 38  # the file's own "MPM-Time" (critical path)
    _names, need, capacities = data.demand_matrix()
    result = level(network, need, capacities, time_limit=20)
    assert result.makespan == J30_OPTIMUM[name]
    assert result.status == "optimal" and result.bound == result.makespan and result.gap == 0
    _assert_feasible(network, result, need, capacities)


def _best_by_enumeration(network: Network, need: np.ndarray, capacity: list[int]) -> int:
    """Exact optimum of a tiny FS-only instance: the serial schedule generation scheme over every
    precedence-feasible order reaches an optimal (active) schedule (Kolisch 1996)."""
    n, dur = network.size, network.durations.tolist()
    preds = {i: set() for i in range(n)}
    for p, s in zip(network.pred.tolist(), network.succ.tolist(), strict=True):
        preds[s].add(p)
    best = 10**9
    for order in itertools.permutations(range(n)):
        if any(preds[t] - set(order[:k]) for k, t in enumerate(order)):
            continue
        use = np.zeros((sum(dur) + 1, len(capacity)), np.int64)
        finish = [0] * n
        for t in order:
            start = max((finish[p] for p in preds[t]), default=0)
            while (use[start : start + dur[t]] + need[t] > capacity).any():
                start += 1
            use[start : start + dur[t]] += need[t]
            finish[t] = start + dur[t]
        best = min(best, max(finish))
    return best


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_small_generated_instances_match_exhaustive_search(seed: int) -> None:
    instance = random_rcpsp(7, 2, strength=0.1, seed=seed)
    result = level(instance.network, instance.demands, instance.capacities, time_limit=10)
    assert result.status == "optimal"
    expected = _best_by_enumeration(instance.network, instance.demands, instance.capacities)
    assert result.makespan == expected
    _assert_feasible(instance.network, result, instance.demands, instance.capacities)


def test_a_30_task_generated_instance_is_feasible_with_its_gap_reported() -> None:
    instance = random_rcpsp(30, 4, seed=7)
    result = level(instance.network, instance.demands, instance.capacities, time_limit=10)
    assert result.bound <= result.makespan
    assert result.gap == pytest.approx((result.makespan - result.bound) / result.makespan, abs=1e-4)
    assert result.makespan >= instance.network.schedule().makespan
    _assert_feasible(instance.network, result, instance.demands, instance.capacities)


def test_levelling_keeps_every_link_type_and_lag() -> None:
    network = Network.build(
        ["a", "b", "c", "d"],
        [3, 4, 2, 5],
        [("a", "b", "SS", 1), ("a", "c", "FF", -1), ("b", "d", "SF", 6), ("c", "d", "FS", -1)],
    )
    need = np.array([[1], [1], [1], [1]])
    result = level(network, need, [1], time_limit=5)
    _assert_feasible(network, result, need, [1])
    assert result.status == "optimal"
    assert result.makespan == 14  # one person does all 14 days of work back to back


def test_second_phase_moves_nothing_that_need_not_move() -> None:
    network = Network.build(["a", "b", "c"], [5, 2, 2], [("a", "c", "FS", 0)])
    need = np.array([[1], [1], [1]])
    result = level(network, need, [2], time_limit=5)
    assert result.makespan == 7
    assert result.starts.tolist() == [0, 0, 5]  # b could go anywhere before 5: it stays at 0
    assert result.shift == 0


def test_a_persons_days_off_are_respected() -> None:
    network = Network.build(["a", "b"], [3, 2], [])
    need = np.array([[1], [1]])
    away = [Unavailable(resource=0, first=0, last=2, amount=1)]  # days 0 and 1
    result = level(network, need, [1], unavailable=away, time_limit=5)
    assert result.starts.min() >= 2
    assert result.makespan == 7


def test_a_levelled_plan_has_early_dates_at_the_levelled_starts_and_honest_float() -> None:
    network = Network.build(["a", "b", "c"], [4, 4, 1], [("a", "c", "FS", 0)])
    need = np.array([[1], [1], [0]])
    result = level(network, need, [1], time_limit=5)
    plan = levelled_schedule(network, result)
    assert plan.early_start.tolist() == result.starts.tolist()
    # a then b on the one person, c right after a: the end is day 8.
    assert plan.makespan == result.makespan == 8
    assert plan.total_float.tolist() == [3, 0, 3]  # float from the links, as tools show it


def test_a_demand_above_capacity_is_refused_by_name() -> None:
    network = Network.build(["install"], [2], [])
    with pytest.raises(LevellingError, match="install needs 3 of resource 1, which has 2"):
        level(network, np.array([[3]]), [2], time_limit=1)
