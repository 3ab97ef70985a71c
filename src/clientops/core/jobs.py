"""The durable-job runtime: DBOS, launched once per process on the jobs system database.

Order matters. DBOS registers a workflow when the module defining it is imported, and on
launch it recovers the unfinished workflows this executor left behind, so every module that
defines workflows must be imported *before* ``start_dbos``. ``clientops.jobs.flows.start()``
imports them and then calls ``start_dbos``: the server, the workers and the CLI call that.

Recovery finds a killed process's workflows by executor id, application name and application
version, so all three are fixed here rather than left to DBOS (which would hash the workflow
source): a restarted process resumes what the previous one left half-done.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from dbos import DBOS, DBOSClient, DBOSConfig, EnqueueOptions
from sqlalchemy import make_url

from clientops.config import Settings, current

APP_NAME = "clientops"
WORKFLOW_VERSION = "clientops-wf-1"
"""Bump only when a workflow's sequence of steps changes incompatibly: unfinished workflows of
an older version are then no longer recovered (their replay would not match the new code)."""
EXECUTOR_ID = "local"
QUEUE = "clientops-jobs"
QUEUE_WORKER_CONCURRENCY = 2
"""Queued jobs run at once per executor on PostgreSQL; SQLite has one writer, so one there."""

T = TypeVar("T")

_lock = threading.Lock()
_launched: list[str] = []  # the system database URL of the DBOS running in this process


def start_dbos(*, settings: Settings, executor_id: str = EXECUTOR_ID, listen: bool = True) -> None:
    """Launch DBOS on ``settings.system_database_url``; a no-op when already running there.

    ``listen=False`` leaves the shared jobs queue to other processes (a CLI that runs one job
    itself); recovery of this executor's unfinished workflows happens either way.
    """
    url = settings.system_database_url
    with _lock:
        if _launched == [url]:
            return
        if _launched:
            _off_loop(_destroy)
        _ensure_sqlite_folder(url)
        concurrency = 1 if url.startswith("sqlite") else QUEUE_WORKER_CONCURRENCY
        _off_loop(lambda: _launch(url, executor_id=executor_id, listen=listen, jobs=concurrency))
        _launched[:] = [url]


def stop_dbos() -> None:
    """Shut DBOS down (server shutdown, end of a CLI command, tests); safe to call twice."""
    with _lock:
        if _launched:
            _off_loop(_destroy)
            _launched.clear()


def is_running() -> bool:
    """True when DBOS is launched in this process."""
    return bool(_launched)


def enqueue_elsewhere(
    *, settings: Settings, workflow_name: str, workflow_id: str, args: tuple[Any, ...]
) -> None:
    """Put a workflow on the jobs queue without running DBOS here; a server or worker runs it."""
    url = settings.system_database_url
    _ensure_sqlite_folder(url)
    DBOS.migrate(url)  # the client never creates the system tables itself
    client = DBOSClient(system_database_url=url, application_name=APP_NAME)
    try:
        options: EnqueueOptions = {
            "queue_name": QUEUE,
            "workflow_name": workflow_name,
            "workflow_id": workflow_id,
            "app_version": WORKFLOW_VERSION,
        }
        client.enqueue(options, *args)
    finally:
        client.destroy()


def step_pause() -> None:
    """Pause between batches when ``CLIENTOPS_JOB_STEP_DELAY_MS`` is set (throttling, tests)."""
    delay_ms = current().job_step_delay_ms
    if delay_ms > 0:
        time.sleep(delay_ms / 1000)


def _config(url: str, executor_id: str) -> DBOSConfig:
    return {
        "name": APP_NAME,
        "system_database_url": url,
        "application_version": WORKFLOW_VERSION,
        "executor_id": executor_id,
        "log_level": "WARNING",
    }


def _launch(url: str, *, executor_id: str, listen: bool, jobs: int) -> None:
    DBOS(config=_config(url, executor_id))
    try:
        if not listen:
            DBOS.listen_queues([])
        DBOS.launch()
        if listen:
            DBOS.register_queue(QUEUE, worker_concurrency=jobs)
    except BaseException:
        DBOS.destroy()
        raise


def _destroy() -> None:
    DBOS.destroy()


def _ensure_sqlite_folder(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)


def _off_loop(fn: Callable[[], T]) -> T:
    # DBOS refuses its blocking calls on a thread running an event loop (the FastAPI lifespan).
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()
