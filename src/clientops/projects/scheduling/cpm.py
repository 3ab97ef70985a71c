"""Critical path method on arrays: forward and backward pass, floats, critical chains.

Conventions (the standalone command's JSON follows them):

* Every figure is a whole number of **working days counted from the project start, day 0**.
* A task that starts on day ``s`` and lasts ``d`` days occupies days ``s .. s+d-1``; its finish is
  ``s + d`` (an exclusive end, like a Python range). A milestone has ``d = 0`` and starts and
  finishes on the same day.
* A link ``P -> S`` of type FS, SS, FF or SF with lag ``L`` (negative = lead) means
  FS: ``start(S) >= finish(P) + L``; SS: ``start(S) >= start(P) + L``;
  FF: ``finish(S) >= finish(P) + L``; SF: ``finish(S) >= start(P) + L``.
* No task starts before the project start (day 0, or ``start_no_earlier``), nor before its own
  "start no earlier than" constraint. "Finish no later than" constraints and the deadline only
  bound the late dates, so they show up as negative float instead of moving the plan.

Every link reduces to ``start(S) >= start(P) + a`` with ``a = L + d(P)·[FS,FF] - d(S)·[FF,SF]``,
so both passes work on starts only. The network is sorted once into topological levels (Kahn's
algorithm on NumPy arrays); each pass then handles one whole level per step with a gather and a
segment maximum (``np.maximum.reduceat``), so the Python loop runs once per level, not per task.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from clientops.core.i18n import gettext as _
from clientops.exceptions import ClientOpsError

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
TaskId = Hashable

LINK_TYPES: tuple[str, ...] = ("FS", "SS", "FF", "SF")
FS, SS, FF, SF = 0, 1, 2, 3
NO_LOW = -(2**52)  # "no start-no-earlier constraint"
NO_HIGH = 2**52  # "no finish-no-later constraint"
ConstraintKind = Literal["start_no_earlier", "finish_no_later"]


class ScheduleError(ClientOpsError):
    """The network cannot be scheduled as given (unknown task, negative duration, ...)."""


class ScheduleCycle(ScheduleError):
    """The links form a loop; ``loop`` lists the task ids in order, the first one repeated."""

    def __init__(self, loop: Sequence[TaskId]) -> None:
        self.loop = list(loop)
        names = " → ".join(str(task) for task in self.loop)
        super().__init__(_("The links form a loop: %(loop)s.") % {"loop": names})


@dataclass(frozen=True)
class Constraint:
    """A date constraint on one task, in working days from the project start."""

    task_id: TaskId
    kind: ConstraintKind
    day: int


def link_type_code(value: str | int) -> int:
    """0..3 for FS, SS, FF, SF (names in any case, or the code itself)."""
    if isinstance(value, int | np.integer) and 0 <= int(value) < 4:
        return int(value)
    name = str(value).strip().upper()
    if name not in LINK_TYPES:
        raise ScheduleError(
            _("Unknown link type %(type)r: use FS, SS, FF or SF.") % {"type": value}
        )
    return LINK_TYPES.index(name)


# One level of a pass: the slice a:b of the sorted links, the positions lo:hi of the tasks it
# updates, where each task's links start inside the slice, and the other ends of the links.
Step = tuple[int, int, int, int, IntArray, IntArray]


@dataclass(frozen=True)
class _Levels:
    """The network sorted into topological levels, with the link slices of each level."""

    order: IntArray  # task index at each topological position
    pos: IntArray  # topological position of each task index
    fwd_links: IntArray  # link numbers sorted by the successor's position
    fwd_src: IntArray  # position of the predecessor of each sorted link
    fwd_steps: tuple[Step, ...]
    bwd_links: IntArray  # link numbers sorted by the predecessor's position
    bwd_dst: IntArray  # position of the successor of each sorted link
    bwd_steps: tuple[Step, ...]
    count: int  # number of levels


@dataclass(frozen=True, eq=False)
class Network:
    """A prepared project network: tasks, links and constraints as arrays, levels computed once.

    Re-running :meth:`schedule` (or :meth:`with_changes` then :meth:`schedule`) reuses the
    topological levels, which is what makes "a drag moved one task" cheap.
    """

    task_ids: tuple[TaskId, ...]
    durations: IntArray
    pred: IntArray
    succ: IntArray
    types: IntArray
    lags: IntArray
    start_no_earlier: IntArray
    finish_no_later: IntArray
    levels: _Levels = field(repr=False)
    _lookup: dict[TaskId, int] | None = field(default=None, repr=False)  # made on first use

    @classmethod
    def build(
        cls,
        task_ids: Sequence[TaskId],
        durations: Sequence[int] | IntArray,
        links: Iterable[tuple[TaskId, TaskId, str | int, int]] = (),
        constraints: Iterable[Constraint | tuple[TaskId, str, int]] | None = None,
    ) -> Network:
        """A network from task ids, durations (working days), links and constraints."""
        ids = tuple(task_ids)
        index = {task: i for i, task in enumerate(ids)}
        if len(index) != len(ids):
            raise ScheduleError(_("Task ids must be unique."))
        pred, succ, types, lags = _link_arrays(links, index)
        snet, fnlt = _constraint_arrays(constraints or (), index, len(ids))
        network = cls.from_arrays(
            ids, durations, pred, succ, types, lags, start_no_earlier=snet, finish_no_later=fnlt
        )
        object.__setattr__(network, "_lookup", index)
        return network

    @classmethod
    def from_arrays(
        cls,
        task_ids: Sequence[TaskId],
        durations: Sequence[int] | IntArray,
        pred: IntArray,
        succ: IntArray,
        types: IntArray,
        lags: IntArray,
        *,
        start_no_earlier: IntArray | None = None,
        finish_no_later: IntArray | None = None,
    ) -> Network:
        """A network from link arrays of task indexes (the fast path for large plans)."""
        ids = tuple(task_ids)
        n = len(ids)
        dur = _int_array(durations)
        if dur.shape != (n,):
            raise ScheduleError(_("There must be one duration per task."))
        if n and dur.min() < 0:
            bad = ids[int(np.argmin(dur))]
            raise ScheduleError(_("Task %(task)s has a negative duration.") % {"task": bad})
        p, s, t, lag = (_int_array(a) for a in (pred, succ, types, lags))
        _check_links(p, s, t, lag, n)
        snet = np.full(n, NO_LOW, np.int64) if start_no_earlier is None else start_no_earlier
        fnlt = np.full(n, NO_HIGH, np.int64) if finish_no_later is None else finish_no_later
        levels = _levels(ids, p, s)
        return cls(ids, dur, p, s, t, lag, _int_array(snet), _int_array(fnlt), levels)

    @property
    def size(self) -> int:
        """Number of tasks."""
        return len(self.task_ids)

    def index(self, task_id: TaskId) -> int:
        """Array position of ``task_id``."""
        if self._lookup is None:
            object.__setattr__(self, "_lookup", {task: i for i, task in enumerate(self.task_ids)})
        try:
            return self._lookup[task_id]  # type: ignore[index]
        except KeyError:
            raise ScheduleError(_("Unknown task %(task)s.") % {"task": task_id}) from None

    def with_changes(
        self,
        *,
        durations: Mapping[TaskId, int] | None = None,
        start_no_earlier: Mapping[TaskId, int | None] | None = None,
        finish_no_later: Mapping[TaskId, int | None] | None = None,
    ) -> Network:
        """A copy with some durations or constraints changed; the links and levels are shared."""
        dur = self.durations.copy()
        for task, days in (durations or {}).items():
            if days < 0:
                raise ScheduleError(_("Task %(task)s has a negative duration.") % {"task": task})
            dur[self.index(task)] = days
        snet = _override(self.start_no_earlier, start_no_earlier, self, NO_LOW)
        fnlt = _override(self.finish_no_later, finish_no_later, self, NO_HIGH)
        return Network(
            self.task_ids, dur, self.pred, self.succ, self.types, self.lags, snet, fnlt,
            self.levels, self._lookup,
        )  # fmt: skip

    def link_offsets(self, durations: IntArray | None = None) -> IntArray:
        """``a`` of each link: ``start(succ) >= start(pred) + a``."""
        dur = self.durations if durations is None else durations
        t = self.types
        from_pred = (t == FS) | (t == FF)
        from_succ = (t == FF) | (t == SF)
        offsets: IntArray = self.lags + dur[self.pred] * from_pred - dur[self.succ] * from_succ
        return offsets

    def schedule(
        self, start_no_earlier: int | None = None, deadline: int | None = None
    ) -> Schedule:
        """Early and late dates, floats and critical flags (see the module's conventions)."""
        start = 0 if start_no_earlier is None else int(start_no_earlier)
        offsets = self.link_offsets()
        early = _forward(self, offsets, np.maximum(self.start_no_earlier, start))
        early_finish = early + self.durations
        makespan = int(early_finish.max()) if self.size else start
        end = makespan if deadline is None else int(deadline)
        late = _backward(self, offsets, np.minimum(self.finish_no_later, end) - self.durations)
        total = late - early
        return Schedule(
            network=self,
            early_start=early,
            early_finish=early_finish,
            late_start=late,
            late_finish=late + self.durations,
            total_float=total,
            free_float=_free_float(self, offsets, early, makespan),
            critical=total <= end - makespan,
            makespan=makespan,
            project_start=start,
            project_end=end,
        )


@dataclass(frozen=True, eq=False)
class Schedule:
    """The result of one CPM run; arrays are in the network's task order."""

    network: Network
    early_start: IntArray
    early_finish: IntArray
    late_start: IntArray
    late_finish: IntArray
    total_float: IntArray
    free_float: IntArray
    critical: BoolArray
    makespan: int
    project_start: int
    project_end: int

    @property
    def task_ids(self) -> tuple[TaskId, ...]:
        """Task ids in array order."""
        return self.network.task_ids

    def driving_links(self) -> BoolArray:
        """Links between two critical tasks that hold tight in the early and the late schedule."""
        net = self.network
        a = net.link_offsets()
        tight = self.early_start[net.succ] == self.early_start[net.pred] + a
        tight &= self.late_start[net.succ] == self.late_start[net.pred] + a
        return np.asarray(tight & self.critical[net.pred] & self.critical[net.succ])

    def critical_path(self, limit: int = 100) -> list[list[TaskId]]:
        """Chains of critical tasks along driving links, each from a start to a finish.

        A chain starts at a critical task that no driving link enters (it starts at the project
        start or at its own constraint) and ends at one that no driving link leaves (it finishes
        at the project end or at its own constraint). At most ``limit`` chains are returned.
        """
        net = self.network
        driving = self.driving_links()
        nexts: dict[int, list[int]] = {}
        entered: set[int] = set()
        for p, s in zip(net.pred[driving].tolist(), net.succ[driving].tolist(), strict=True):
            nexts.setdefault(p, []).append(s)
            entered.add(s)
        heads = [i for i in np.flatnonzero(self.critical).tolist() if i not in entered]
        heads.sort(key=lambda i: (int(self.early_start[i]), i))
        chains = _chains(heads, nexts, limit)
        return [[net.task_ids[i] for i in chain] for chain in chains]

    def records(self) -> list[dict[str, Any]]:
        """One dict per task with the figures the standalone command prints."""
        columns = zip(
            self.task_ids,
            self.early_start.tolist(),
            self.early_finish.tolist(),
            self.late_start.tolist(),
            self.late_finish.tolist(),
            self.total_float.tolist(),
            self.critical.tolist(),
            strict=True,
        )
        keys = ("uid", "early_start", "early_finish", "late_start", "late_finish", "total_float")
        return [{**dict(zip(keys, row[:6], strict=True)), "critical": row[6]} for row in columns]


def _chains(heads: list[int], nexts: dict[int, list[int]], limit: int) -> list[list[int]]:
    """Paths from each head along ``nexts`` to a task with no successor (depth first)."""
    chains: list[list[int]] = []
    for head in heads:
        stack: list[list[int]] = [[head]]
        while stack and len(chains) < limit:
            path = stack.pop()
            following = nexts.get(path[-1], [])
            if not following:
                chains.append(path)
            stack.extend([*path, nxt] for nxt in reversed(following))
    return chains[:limit]


def _forward(net: Network, offsets: IntArray, base: IntArray) -> IntArray:
    """Early starts: level by level, the maximum over the incoming links."""
    lv = net.levels
    es = base[lv.order].copy()
    add = offsets[lv.fwd_links]
    for a, b, lo, hi, starts, src in lv.fwd_steps:
        best = es[src]
        best += add[a:b]
        if starts.size < b - a:  # some task has several incoming links
            best = np.maximum.reduceat(best, starts)
        np.maximum(es[lo:hi], best, out=es[lo:hi])
    return es[lv.pos]


def _backward(net: Network, offsets: IntArray, cap: IntArray) -> IntArray:
    """Late starts: levels in reverse, the minimum over the outgoing links."""
    lv = net.levels
    ls = cap[lv.order].copy()
    sub = offsets[lv.bwd_links]
    for a, b, lo, hi, starts, dst in lv.bwd_steps:
        best = ls[dst]
        best -= sub[a:b]
        if starts.size < b - a:
            best = np.minimum.reduceat(best, starts)
        np.minimum(ls[lo:hi], best, out=ls[lo:hi])
    return ls[lv.pos]


def _free_float(net: Network, offsets: IntArray, early: IntArray, makespan: int) -> IntArray:
    """How far each task can slip without moving a successor's early start or the project end."""
    free = makespan - (early + net.durations)
    if net.pred.size:
        slack = early[net.succ] - early[net.pred] - offsets
        np.minimum.at(free, net.pred, slack)
    return free


def _levels(ids: tuple[TaskId, ...], pred: IntArray, succ: IntArray) -> _Levels:
    """Topological levels (Kahn, one NumPy step per level); refuses a loop by naming it."""
    n = len(ids)
    groups = _kahn(n, pred, succ)
    placed = sum(len(g) for g in groups)
    if placed < n:
        raise ScheduleCycle([ids[i] for i in _find_loop(n, pred, succ, groups)])
    flat = np.concatenate(groups) if groups else np.zeros(0, np.int64)
    level = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    # Tasks with successors first inside each level, so the backward pass writes a slice.
    no_out = np.bincount(pred, minlength=n)[flat] == 0
    order = flat[np.argsort(level * 2 + no_out)]
    pos = np.empty(n, np.int64)
    pos[order] = np.arange(n)
    bounds = np.zeros(len(groups) + 1, np.int64)
    np.cumsum([len(g) for g in groups], out=bounds[1:])
    fwd_links = np.argsort(pos[succ])
    bwd_links = np.argsort(pos[pred])
    fwd_src, bwd_dst = pos[pred][fwd_links], pos[succ][bwd_links]
    fwd_steps = _steps(pos[succ][fwd_links], fwd_src, bounds, forward=True)
    bwd_steps = _steps(pos[pred][bwd_links], bwd_dst, bounds, forward=False)
    return _Levels(
        order, pos, fwd_links, fwd_src, fwd_steps, bwd_links, bwd_dst, bwd_steps, len(groups),
    )  # fmt: skip


def _steps(
    keys: IntArray, others: IntArray, bounds: npt.NDArray[np.int64], *, forward: bool
) -> tuple[Step, ...]:
    """Per level, the slice of sorted links and the tasks (positions) they update."""
    if keys.size == 0:
        return ()
    link_bounds = np.searchsorted(keys, bounds)
    new_segment = np.ones(keys.size, bool)
    new_segment[1:] = keys[1:] != keys[:-1]
    seg_starts = np.flatnonzero(new_segment)
    seg_bounds = np.searchsorted(seg_starts, link_bounds).tolist()
    a_all, b_all = link_bounds[:-1], link_bounds[1:]
    used = np.flatnonzero(b_all > a_all)
    lo = keys[a_all[used]].tolist()
    hi = (keys[b_all[used] - 1] + 1).tolist()
    steps = []
    for k, level in enumerate(used.tolist()):
        a, b = int(link_bounds[level]), int(link_bounds[level + 1])
        local = seg_starts[seg_bounds[level] : seg_bounds[level + 1]] - a
        steps.append((a, b, lo[k], hi[k], local, others[a:b]))
    return tuple(steps if forward else reversed(steps))


WIDE = 128  # below this many tasks a level is cheaper to peel in plain Python ...
DEEP = 16  # ... once this many narrow levels came in a row


def _kahn(n: int, pred: IntArray, succ: IntArray) -> list[IntArray]:
    """Groups of task indexes; each group's predecessors are all in earlier groups.

    Levels are peeled with NumPy; once many narrow levels come in a row (a deep, chain-like
    plan) the rest is peeled in plain Python, whose cost per link does not grow with the depth.
    """
    out_count = np.bincount(pred, minlength=n)
    out_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(out_count, out=out_ptr[1:])
    out_succ = succ[np.argsort(pred)]
    indeg = np.bincount(succ, minlength=n).astype(np.int64)
    frontier = np.flatnonzero(indeg == 0)
    groups: list[IntArray] = []
    narrow = 0  # consecutive narrow levels: many of them means a deep, chain-like plan
    while frontier.size and narrow < DEEP:
        groups.append(frontier)
        narrow = narrow + 1 if frontier.size < WIDE else 0
        counts = out_count[frontier]
        ends = np.cumsum(counts)
        idx = np.arange(ends[-1]) + np.repeat(out_ptr[frontier] - ends + counts, counts)
        targets = out_succ[idx]
        np.subtract.at(indeg, targets, 1)
        frontier = np.unique(targets[indeg[targets] == 0])
    if frontier.size:
        groups.extend(_kahn_python(frontier, out_ptr, out_succ, indeg))
    return groups


def _kahn_python(
    frontier: IntArray, out_ptr: IntArray, out_succ: IntArray, indeg: IntArray
) -> list[IntArray]:
    """The rest of Kahn's levels, one task at a time."""
    ptr, targets_of, remaining = out_ptr.tolist(), out_succ.tolist(), indeg.tolist()
    groups: list[IntArray] = []
    current: list[int] = frontier.tolist()
    while current:
        groups.append(np.asarray(current, np.int64))
        ready: list[int] = []
        for v in current:
            for w in targets_of[ptr[v] : ptr[v + 1]]:
                remaining[w] -= 1
                if not remaining[w]:
                    ready.append(w)
        current = ready
    return groups


def _find_loop(n: int, pred: IntArray, succ: IntArray, groups: list[IntArray]) -> list[int]:
    """One loop among the tasks Kahn could not place, in link order, first task repeated."""
    placed = np.zeros(n, bool)
    for group in groups:
        placed[group] = True
    # Every unplaced task has an unplaced predecessor: walk backwards until a task repeats.
    preds: dict[int, int] = {}
    for p, s in zip(pred.tolist(), succ.tolist(), strict=True):
        if not placed[p] and not placed[s] and s not in preds:
            preds[s] = p
    seen: dict[int, int] = {}
    walk: list[int] = []
    node = int(np.flatnonzero(~placed)[0])
    while node not in seen:
        seen[node] = len(walk)
        walk.append(node)
        node = preds[node]
    loop = walk[seen[node] :]
    loop.reverse()
    first = loop.index(min(loop))  # start at the task listed first, for a stable message
    loop = loop[first:] + loop[:first]
    return [*loop, loop[0]]


def _link_arrays(
    links: Iterable[tuple[TaskId, TaskId, str | int, int]], index: dict[TaskId, int]
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Index arrays for the links; an unknown task id is named in the error."""
    columns = list(zip(*links, strict=True))
    if not columns:
        return tuple(np.zeros(0, np.int64) for _ in range(4))  # type: ignore[return-value]
    preds, succs, kinds, lags = columns
    try:
        pred = [index[p] for p in preds]
        succ = [index[s] for s in succs]
    except KeyError as missing:
        raise ScheduleError(
            _("A link refers to an unknown task %(task)s.") % {"task": missing.args[0]}
        ) from None
    codes: dict[object, int] = {name: i for i, name in enumerate(LINK_TYPES)}
    types = [codes[k] if k in codes else link_type_code(k) for k in kinds]
    return (
        np.asarray(pred, np.int64),
        np.asarray(succ, np.int64),
        np.asarray(types, np.int64),
        np.asarray(lags, np.int64),
    )


def _constraint_arrays(
    constraints: Iterable[Constraint | tuple[TaskId, str, int]], index: dict[TaskId, int], n: int
) -> tuple[IntArray, IntArray]:
    """Start-no-earlier and finish-no-later days per task (the tightest when repeated)."""
    snet = np.full(n, NO_LOW, np.int64)
    fnlt = np.full(n, NO_HIGH, np.int64)
    for item in constraints:
        task, kind, day = (
            (item.task_id, item.kind, item.day) if isinstance(item, Constraint) else item
        )
        if task not in index:
            raise ScheduleError(
                _("A constraint refers to an unknown task %(task)s.") % {"task": task}
            )
        i = index[task]
        if kind == "start_no_earlier":
            snet[i] = max(snet[i], int(day))
        elif kind == "finish_no_later":
            fnlt[i] = min(fnlt[i], int(day))
        else:
            raise ScheduleError(_("Unknown constraint %(kind)r.") % {"kind": kind})
    return snet, fnlt


def _override(
    base: IntArray, changes: Mapping[TaskId, int | None] | None, net: Network, none: int
) -> IntArray:
    """``base`` with some entries replaced (``None`` removes the constraint)."""
    if not changes:
        return base
    out = base.copy()
    for task, day in changes.items():
        out[net.index(task)] = none if day is None else int(day)
    return out


def _check_links(pred: IntArray, succ: IntArray, types: IntArray, lags: IntArray, n: int) -> None:
    """Refuse link arrays that point outside the task list or carry an unknown type."""
    if not pred.shape == succ.shape == types.shape == lags.shape:
        raise ScheduleError(_("Link arrays must have the same length."))
    if pred.size and (min(pred.min(), succ.min()) < 0 or max(pred.max(), succ.max()) >= n):
        raise ScheduleError(_("A link refers to a task outside the network."))
    if types.size and (types.min() < 0 or types.max() > 3):
        raise ScheduleError(_("Unknown link type: use FS, SS, FF or SF."))


def _int_array(values: Any) -> IntArray:
    return np.ascontiguousarray(values, dtype=np.int64).reshape(-1)
