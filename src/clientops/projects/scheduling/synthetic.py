"""Random plans with a known shape, for the benchmarks and the property tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clientops.projects.scheduling.cpm import IntArray, Network


@dataclass(frozen=True)
class RandomPlan:
    """Link arrays (task indexes) of a random acyclic plan."""

    durations: IntArray
    pred: IntArray
    succ: IntArray
    types: IntArray
    lags: IntArray

    def network(self) -> Network:
        """The plan as a CPM network with task ids 0..n-1."""
        n = self.durations.size
        return Network.from_arrays(
            range(n), self.durations, self.pred, self.succ, self.types, self.lags
        )


def random_plan(
    tasks: int, *, links_per_task: float = 3.0, window: int = 100, seed: int = 1
) -> RandomPlan:
    """A WBS-like plan: each link joins a task to one of the ``window`` tasks listed before it.

    About 70 % of links are FS and 10 % each SS, FF and SF; lags run from −2 to +5 working days;
    durations from 0 (milestones, 1 in 20) to 20 days. Listing order is a topological order, but
    the indexes are shuffled so the scheduler cannot rely on it.
    """
    rng = np.random.default_rng(seed)
    m = int(tasks * links_per_task)
    succ = rng.integers(1, max(tasks, 2), m)
    pred = np.maximum(succ - rng.integers(1, window + 1, m), 0)
    keep = pred < succ
    pred, succ = pred[keep], succ[keep]
    types = rng.choice(4, size=pred.size, p=[0.7, 0.1, 0.1, 0.1]).astype(np.int64)
    lags = rng.integers(-2, 6, pred.size)
    durations = rng.integers(1, 21, tasks) * (rng.random(tasks) >= 0.05)
    shuffle = rng.permutation(tasks)
    shuffled = np.empty(tasks, np.int64)
    shuffled[shuffle] = durations
    return RandomPlan(shuffled, shuffle[pred], shuffle[succ], types, lags)


@dataclass(frozen=True)
class RandomRcpsp:
    """A resource-constrained project: FS network, demands (tasks × resources), capacities."""

    network: Network
    demands: IntArray
    capacities: list[int]


def random_rcpsp(
    tasks: int, resources: int, *, strength: float = 0.3, seed: int = 1
) -> RandomRcpsp:
    """A PSPLIB-like instance: durations 1–10, each task uses a resource with probability 1/2
    (1–10 units), and capacities set by the resource strength (0 = the largest single demand,
    1 = the peak of the unlevelled early schedule), as in Kolisch, Sprecher & Drexl (1995)."""
    rng = np.random.default_rng(seed)
    durations = rng.integers(1, 11, tasks)
    pred_list: list[int] = []
    succ_list: list[int] = []
    for task in range(1, tasks):
        count = int(rng.integers(1, 4))
        for before in set(rng.integers(max(0, task - 12), task, count).tolist()):
            pred_list.append(before)
            succ_list.append(task)
    pred, succ = np.asarray(pred_list, np.int64), np.asarray(succ_list, np.int64)
    zeros = np.zeros(pred.size, np.int64)
    network = Network.from_arrays(range(tasks), durations, pred, succ, zeros, zeros)
    demands = rng.integers(1, 11, (tasks, resources)) * (rng.random((tasks, resources)) < 0.5)
    early = network.schedule().early_start
    capacities = [_capacity(demands[:, r], early, durations, strength) for r in range(resources)]
    return RandomRcpsp(network, demands.astype(np.int64), capacities)


def _capacity(need: IntArray, early: IntArray, durations: IntArray, strength: float) -> int:
    """Capacity between the largest demand and the early schedule's peak use."""
    horizon = int((early + durations).max())
    use = np.zeros(horizon + 1, np.int64)
    for start, days, amount in zip(early.tolist(), durations.tolist(), need.tolist(), strict=True):
        use[start : start + days] += amount
    low, peak = int(need.max(initial=0)), int(use.max(initial=0))
    return max(low + round(strength * (peak - low)), 1)
