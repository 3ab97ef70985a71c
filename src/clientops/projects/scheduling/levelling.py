"""Resource levelling with OR-Tools CP-SAT, counted in the project's working days.

The model: one fixed-size interval per task (its duration in working days), every link as
``start(S) >= start(P) + a`` (the same reduction as :mod:`.cpm`, so FS/SS/FF/SF and leads/lags
hold exactly), start-no-earlier constraints and the project start as lower bounds, and one
cumulative constraint per renewable resource. A person's days off (their calendar's exceptions,
mapped to project working days by :meth:`.calendar.WorkingDays.blocked`) enter as fixed intervals
that take capacity away on those days.

Two phases: first minimise the project end; then, with the end fixed at the best one found,
minimise the total shift of the tasks from their unlevelled early starts (so levelling moves as
little as it can). The solver's lower bound of the first phase gives the optimality gap.
Finish-no-later constraints and deadlines are not imposed here: a levelled plan that misses one
shows it as negative float when :func:`levelled_schedule` reschedules it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from clientops.core.i18n import gettext as _
from clientops.projects.scheduling.cpm import IntArray, Network, Schedule, ScheduleError

FIRST_PHASE_SHARE = 0.7  # of the time limit, for the project end; the rest for fewer moves
SAFETY_SECONDS = 0.15  # kept back from the second phase so the whole call stays in the limit
STATUS = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.MODEL_INVALID: "invalid",
}


class LevellingError(ScheduleError):
    """No levelled schedule: a task needs more than a resource has, or none was found in time."""


@dataclass(frozen=True)
class Unavailable:
    """``amount`` units of resource ``resource`` missing on days ``first .. last-1``."""

    resource: int
    first: int
    last: int
    amount: int


@dataclass(frozen=True)
class LevelResult:
    """A levelled schedule: starts per task (network order), the end, the bound and the gap."""

    starts: IntArray
    finishes: IntArray
    makespan: int
    bound: int
    gap: float  # (makespan - bound) / makespan; 0 when proven optimal
    status: str  # optimal | feasible
    shift: int  # working days the tasks moved in total from their unlevelled early starts
    seconds: float


def level(
    network: Network,
    demands: npt.ArrayLike,
    capacities: Sequence[int],
    *,
    time_limit: float = 10.0,
    unavailable: Sequence[Unavailable] = (),
    start_no_earlier: int | None = None,
    workers: int = 8,
    seed: int = 0,
) -> LevelResult:
    """Level ``network`` against the resources; ``demands`` is tasks × resources (integers)."""
    started = time.monotonic()
    need = _check(network, np.asarray(demands, np.int64), list(capacities), unavailable)
    early = network.schedule(start_no_earlier=start_no_earlier).early_start
    model, starts, end = _model(network, need, list(capacities), unavailable, early)
    model.minimize(end)
    solver = _solver(time_limit * FIRST_PHASE_SHARE, workers, seed)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise LevellingError(_no_solution(status, time_limit))
    best = [int(solver.value(s)) for s in starts]
    makespan, bound = int(solver.objective_value), int(np.ceil(solver.best_objective_bound))
    remaining = time_limit - (time.monotonic() - started) - SAFETY_SECONDS
    best = _fewer_moves(model, starts, end, makespan, best, early, remaining, workers, seed)
    return _result(network, best, makespan, bound, STATUS[status], early, started)


def levelled_schedule(network: Network, result: LevelResult) -> Schedule:
    """CPM figures of the levelled plan: early dates are the levelled ones, late dates and float
    follow from the links with the levelled end as the project end (as planning tools show them
    after levelling)."""
    pinned = np.maximum(network.start_no_earlier, result.starts)
    return replace(network, start_no_earlier=pinned).schedule(start_no_earlier=0)


def _check(
    network: Network, need: IntArray, capacities: list[int], unavailable: Sequence[Unavailable]
) -> IntArray:
    """Refuse demands no capacity can meet, naming the task and the resource."""
    need = need.reshape(network.size, len(capacities))
    if need.size and need.min() < 0:
        raise LevellingError(_("Resource demands cannot be negative."))
    for r, capacity in enumerate(capacities):
        over = np.flatnonzero(need[:, r] > capacity)
        if over.size:
            task = network.task_ids[int(over[0])]
            raise LevellingError(
                _("Task %(task)s needs %(need)s of resource %(res)s, which has %(cap)s.")
                % {"task": task, "need": int(need[over[0], r]), "res": r + 1, "cap": capacity}
            )
    for block in unavailable:
        if not 0 <= block.resource < len(capacities):
            raise LevellingError(_("Unavailability for an unknown resource."))
    return need


def _model(
    network: Network,
    need: IntArray,
    capacities: list[int],
    unavailable: Sequence[Unavailable],
    early: IntArray,
) -> tuple[cp_model.CpModel, list[cp_model.IntVar], cp_model.IntVar]:
    """The CP-SAT model: intervals, links, capacities and the project end."""
    model = cp_model.CpModel()
    dur = network.durations.tolist()
    horizon = _horizon(network, early, unavailable)
    starts = [model.new_int_var(int(lo), horizon, f"s{i}") for i, lo in enumerate(early.tolist())]
    intervals = [
        model.new_fixed_size_interval_var(s, d, f"t{i}")
        for i, (s, d) in enumerate(zip(starts, dur, strict=True))
    ]
    offsets = network.link_offsets().tolist()
    for p, s, a in zip(network.pred.tolist(), network.succ.tolist(), offsets, strict=True):
        model.add(starts[s] >= starts[p] + a)
    for r, capacity in enumerate(capacities):
        _cumulative(model, r, capacity, need[:, r], intervals, dur, unavailable)
    end = model.new_int_var(int(early.min(initial=0)), horizon, "end")
    for s, d in zip(starts, dur, strict=True):
        model.add(end >= s + d)
    return model, starts, end


def _cumulative(
    model: cp_model.CpModel,
    r: int,
    capacity: int,
    need: IntArray,
    intervals: list[cp_model.IntervalVar],
    dur: list[int],
    unavailable: Sequence[Unavailable],
) -> None:
    """One resource's capacity over the tasks that use it and the days it is missing."""
    used = [i for i in np.flatnonzero(need > 0).tolist() if dur[i] > 0]
    chosen = [intervals[i] for i in used]
    amounts = [int(need[i]) for i in used]
    for k, block in enumerate(b for b in unavailable if b.resource == r):
        if block.last > block.first:
            size = block.last - block.first
            chosen.append(model.new_fixed_size_interval_var(block.first, size, f"off{r}_{k}"))
            amounts.append(min(block.amount, capacity))
    if chosen:
        model.add_cumulative(chosen, amounts, capacity)


def _horizon(network: Network, early: IntArray, unavailable: Sequence[Unavailable]) -> int:
    """An end no plan needs to pass: the tasks one after another, each after the longest lag."""
    gap = max(int(network.lags.max(initial=0)), 0)
    last_block = max((b.last for b in unavailable), default=0)
    first = max(int(early.max(initial=0)), last_block)
    return first + int(network.durations.sum()) + gap * network.size + 1


def _fewer_moves(
    model: cp_model.CpModel,
    starts: list[cp_model.IntVar],
    end: cp_model.IntVar,
    makespan: int,
    best: list[int],
    early: IntArray,
    seconds: float,
    workers: int,
    seed: int,
) -> list[int]:
    """Second phase: same end, least total shift; keeps ``best`` when out of time."""
    if seconds < 0.2 or not starts:
        return best
    model.add(end <= makespan)
    model.clear_hints()  # type: ignore[no-untyped-call]
    for var, value in zip(starts, best, strict=True):
        model.add_hint(var, value)
    model.minimize(sum(starts))
    solver = _solver(seconds, workers, seed)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return best
    return [int(solver.value(s)) for s in starts]


def _solver(seconds: float, workers: int, seed: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(seconds, 0.05)
    solver.parameters.num_workers = max(workers, 1)
    solver.parameters.random_seed = seed
    return solver


def _result(
    network: Network,
    best: list[int],
    makespan: int,
    bound: int,
    status: str,
    early: IntArray,
    started: float,
) -> LevelResult:
    starts = np.asarray(best, np.int64)
    gap = 0.0 if status == "optimal" or makespan <= 0 else (makespan - bound) / makespan
    return LevelResult(
        starts=starts,
        finishes=starts + network.durations,
        makespan=makespan,
        bound=makespan if status == "optimal" else bound,
        gap=round(max(gap, 0.0), 4),
        status=status,
        shift=int((starts - early).sum()),
        seconds=round(time.monotonic() - started, 3),
    )


def _no_solution(status: Any, time_limit: float) -> str:
    if status == cp_model.INFEASIBLE:
        return _("No levelled schedule exists: the resources can never cover these tasks.")
    return _("No levelled schedule was found within %(s)s seconds; allow more time.") % {
        "s": time_limit
    }
