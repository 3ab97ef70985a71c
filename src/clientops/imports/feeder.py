"""The child process of a streamed import: it stages the file and hands the batches over.

It imports only what staging needs (not the database or the web application), so it starts
quickly. See ``pipeline`` for the parent's side.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from clientops.imports.staging import Entry, StageCounts, Stager, StageSpec, bulk_gc

AHEAD = 2
"""Batches staged and waiting at most: enough to keep the writer busy, little memory."""
IDLE_SECONDS = 600
"""A child whose batches nobody takes for this long stops (its workflow was cancelled)."""


@dataclass
class Staged:
    """One batch staged for writing: its number, valid entries and invalid rows."""

    number: int
    entries: list[Entry]
    report: list[Entry]

    @property
    def rows(self) -> int:
        """Rows of the file in the batch (an order given line by line counts its lines)."""
        return sum(len(entry[0]) for entry in self.entries) + sum(
            len(entry[0]) for entry in self.report
        )


@dataclass
class Ended:
    """Staging is over: its counts and the number of batches."""

    counts: StageCounts
    batches: int


def stage_elsewhere(
    spec: StageSpec, batch_size: int, first: int, skip_rows: int, out: Any, parent: int
) -> None:
    """Stage the file of ``spec`` into batches put on ``out`` (run in the child process)."""
    sink = _Sink(out, first, skip_rows, parent)
    try:
        with bulk_gc():
            table, validator = spec.open()
            stager = Stager(validator, spec.scan, batch_size, sink)
            counts = stager.run(sink.counted(table.rows))
        sink.hand_over(Ended(counts, sink.number - 1))
    except _Orphaned:
        return
    except Exception as exc:  # in words: the parent fails the import with it
        sink.hand_over(f"{type(exc).__name__}: {exc}")


class _Orphaned(Exception):
    """The parent process is gone, or stopped taking batches."""


class _Sink:
    """Numbers the staged batches and hands them over, dropping the rows already written."""

    def __init__(self, out: Any, first: int, skip_rows: int, parent: int) -> None:
        self.out = out
        self.number = first
        self.parent = parent
        self.skip = skip_rows
        self.boundary: int | None = None if skip_rows else 0

    def counted(self, rows: Iterable[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
        """The rows, noting the number of the last one already written (a resumed import)."""
        for index, (number, cells) in enumerate(rows, start=1):
            if index == self.skip:
                self.boundary = number
            yield number, cells

    def __call__(self, entries: list[Entry], report: list[Entry]) -> None:
        if self.boundary != 0:
            entries, report = self._unwritten(entries), self._unwritten(report)
            if not (entries or report):
                return
        self.hand_over(Staged(self.number, entries, report))
        self.number += 1

    def _unwritten(self, entries: list[Entry]) -> list[Entry]:
        if self.boundary is None:
            return []  # every row so far belongs to a written batch
        boundary = self.boundary
        return [entry for entry in entries if entry[0][0] > boundary]

    def hand_over(self, item: Staged | Ended | str) -> None:
        for _ in range(IDLE_SECONDS):
            if os.getppid() != self.parent:
                raise _Orphaned
            try:
                self.out.put(item, timeout=1)
                return
            except queue.Full:
                continue
        raise _Orphaned
