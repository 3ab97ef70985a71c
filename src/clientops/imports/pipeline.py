"""Staging a large file in another process while its batches are written: a streamed import.

A committed ``valid-rows`` import of a large file that the raw scan proved readable to its end
is streamed: a child process stages the rows, a few batches ahead, while the workflow's steps
write the batches one by one. Staging (Python) and writing (Python, the database) run on two
cores instead of taking turns. A process rather than a thread: the two would share one
interpreter lock, and SQLite's driver gives it up and takes it back for every row it writes.

A batch is stored in the transaction that writes it, so the stored batches are exactly the
written ones: the file's first rows, in whole batches. A workflow resumed in another process
(after ``kill -9``) stages the file again from the start (duplicate keys must still be seen from
the first row), dropping the rows of the batches already written before numbering the next one.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from typing import Any

from clientops.db import transaction
from clientops.imports import service
from clientops.imports.feeder import AHEAD, Ended, Staged, stage_elsewhere
from clientops.imports.staging import StageSpec


class StagingFailed(Exception):
    """The child process failed (its error in words) or died."""


class Feed:
    """Stages one import's rows in a child process and hands the batches over in order."""

    def __init__(
        self, spec: StageSpec, key: str, batch_size: int, *, first: int = 1, skip_rows: int = 0
    ) -> None:
        self.key = key
        self.first = first
        self.ended: Ended | None = None
        self._pending: Staged | None = None
        context = multiprocessing.get_context("spawn")  # no fork of a threaded process
        self._queue: Any = context.Queue(maxsize=AHEAD)
        args = (spec, batch_size, first, skip_rows, self._queue, os.getpid())
        self._process = context.Process(target=stage_elsewhere, args=args, daemon=True)
        self._process.start()

    def written(self, number: int) -> bool:
        """True when batch ``number`` was written before this feed started."""
        return number < self.first

    def take(self, number: int) -> Staged | None:
        """Batch ``number`` (waiting for it to be staged), or ``None`` after the last one."""
        while self._pending is None and self.ended is None:
            item = self._next()
            if isinstance(item, Ended):
                self.ended = item
            else:
                self._pending = item
        if self._pending is not None and self._pending.number != number:
            raise StagingFailed(f"batch {number} asked for, {self._pending.number} staged")
        return self._pending

    def release(self, number: int) -> None:
        """Batch ``number`` is committed: the next ``take`` moves on."""
        if self._pending is not None and self._pending.number == number:
            self._pending = None

    def total(self) -> int | None:
        """The number of batches, once the last row is staged."""
        return self.ended.batches if self.ended is not None else None

    def stop(self) -> None:
        """Stop the child process."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(timeout=10)
        self._queue.close()

    def _next(self) -> Staged | Ended:
        while True:
            try:
                item = self._queue.get(timeout=1)
            except queue.Empty:
                if not self._process.is_alive():
                    raise StagingFailed("the staging process stopped") from None
                continue
            if isinstance(item, str):
                raise StagingFailed(item)
            return item  # type: ignore[no-any-return]


# --- feeds of this process -----------------------------------------------------------------------

_FEEDS: dict[int, Feed] = {}
_LOCK = threading.Lock()


def start(import_id: int, staging: service.Staging, batch_size: int) -> None:
    """Start staging an import's rows."""
    with _LOCK:
        old = _FEEDS.pop(import_id, None)
        if old is not None:
            old.stop()
        _FEEDS[import_id] = Feed(staging.spec, staging.key, batch_size)


def feed(import_id: int, batch_size: int) -> Feed:
    """The import's feed in this process; after a restart, a new one that skips the rows of
    the batches already written."""
    with _LOCK:
        found = _FEEDS.get(import_id)
        if found is None:
            with transaction() as db:
                staging = service.resume_staging(db=db, import_id=import_id)
                batches, rows = service.written_so_far(db=db, import_id=import_id)
            found = Feed(staging.spec, staging.key, batch_size, first=batches + 1, skip_rows=rows)
            _FEEDS[import_id] = found
        return found


def discard(import_id: int) -> None:
    """Stop and forget the import's feed, if this process has one."""
    with _LOCK:
        found = _FEEDS.pop(import_id, None)
    if found is not None:
        found.stop()
