"""Bulk-load mode: a customer import large against the table writes without the indexes it does
not read and builds them again at the end; nothing may leave the table without them.

The thresholds are lowered so that a few hundred rows count as large. Each test compares the
indexes the database reports with the ones the models define, and searches afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import inspect

from clientops import config, migrate
from clientops.customers import service as customers_service
from clientops.db import transaction
from clientops.imports import flows, indexes
from clientops.jobs import flows as jobs_flows
from clientops.jobs import service as jobs_service
from tests.test_imports_service import SYSTEM, csv_bytes, customers, import_file, upload

HEADER = ["客户编号", "姓名", "手机", "邮箱", "标签"]
SET_ASIDE = "bulk load: 8 customer indexes set aside until the end"
BUILT = "bulk load: 8 customer indexes built again"


@pytest.fixture(scope="module")
def runtime(database_url: str) -> Iterator[None]:
    """DBOS in this process, taking no queued work."""
    jobs_flows.start(listen=False)
    yield
    jobs_flows.stop()


@pytest.fixture
def small_bulk(runtime: None) -> Iterator[None]:
    """Imports of 200 rows or more are large; batches of 100 rows."""
    with config.override(import_stream_min_rows=200, import_batch_size=100):
        yield


def _file(count: int, prefix: str = "B") -> bytes:
    rows = [
        [f"{prefix}{i:04d}", f"Anna {prefix}{i:04d} Smith", f"137{i:08d}", "", "vip"]
        for i in range(count)
    ]
    return csv_bytes([HEADER, *rows])


def _index_definitions() -> dict[str, list[Any]]:
    """Index name → columns, as the database reports them for ``customers``."""
    with transaction() as db:
        found = inspect(db.connection()).get_indexes("customers")
    return {str(ix["name"]): list(ix["column_names"]) for ix in found}


def _model_definitions() -> dict[str, list[Any]]:
    return {str(ix.name): [c.name for c in ix.columns] for ix in indexes.secondary()}


def _log(job_id: int | None) -> list[str]:
    assert job_id is not None
    with transaction() as db:
        return [line.message for line in jobs_service.logs(db=db, job_id=job_id)]


def _search(q: str) -> list[str]:
    with transaction() as db:
        flt = customers_service.CustomerFilter(q=q)
        page, _ = customers_service.list_page(db=db, principal=SYSTEM, flt=flt, limit=5)
        return [customer.name for customer in page]


@pytest.mark.parametrize("mode", ["valid-rows", "all-or-nothing"])
def test_a_large_import_ends_with_every_index_and_search_works(small_bulk: None, mode: str) -> None:
    # valid-rows: streamed; all-or-nothing: staged and checked first, its write pass bulk-loaded
    imp = import_file(_file(300), mode=mode)
    assert (imp.status, imp.created) == ("succeeded", 300)
    messages = _log(imp.job_id)
    assert SET_ASIDE in messages and BUILT in messages
    assert _index_definitions().items() >= _model_definitions().items()
    migrate.check()  # the rebuilt indexes are exactly what the migrations made
    assert _search("smith")[:2] == ["Anna B0000 Smith", "Anna B0001 Smith"]  # alternative name
    assert _search("13700000299") == ["Anna B0299 Smith"]


def test_an_import_small_against_the_table_drops_nothing(small_bulk: None) -> None:
    first = import_file(_file(300))
    assert first.status == "succeeded"
    # 200 more rows against 300 customers: under half the table, so written with every index.
    with config.override(import_bulk_index_ratio=1.0):
        second = import_file(_file(200, prefix="C"))
    assert (second.status, second.created) == ("succeeded", 200)
    assert not [line for line in _log(second.job_id) if line.startswith("bulk load")]
    assert len(customers()) == 500
    assert _search("anna c0199") == ["Anna C0199 Smith"]


def test_an_import_below_the_size_threshold_drops_nothing(small_bulk: None) -> None:
    imp = import_file(_file(150))  # an empty table, but fewer rows than the minimum
    assert (imp.status, imp.created) == ("succeeded", 150)
    assert not [line for line in _log(imp.job_id) if line.startswith("bulk load")]


def test_the_next_import_builds_indexes_a_lost_bulk_import_left_out(small_bulk: None) -> None:
    # A bulk import killed and never resumed: its indexes are gone.
    with transaction() as db:
        assert len(indexes.drop(db=db)) == 8
    assert indexes.droppable()[0].name not in _index_definitions()
    imp = import_file(_file(3))
    assert imp.status == "succeeded"
    assert BUILT in _log(imp.job_id)
    assert _index_definitions().items() >= _model_definitions().items()
    with transaction() as db:
        assert indexes.missing(db=db) == [] and indexes.restore(db=db) == []  # idempotent
    migrate.check()


def test_a_cancelled_bulk_import_leaves_every_index(small_bulk: None) -> None:
    import_id = upload(_file(500), mode="valid-rows")
    with config.override(job_step_delay_ms=300):  # slow batches, so it can be cancelled
        job = flows.submit(principal=SYSTEM, import_id=import_id, dry_run=False, run_here=True)
        _wait_until(lambda: bool(_missing()), "the bulk load did not start")
        assert jobs_flows.cancel(job.id).status == "cancelled"
        # The workflow stops at its next step and builds the indexes on its way out.
        _wait_until(lambda: not _missing(), "the indexes were not built again")
    assert BUILT in _log(job.id)
    assert len(customers()) < 500  # it was stopped half-way, keeping whole batches


def _missing() -> list[str]:
    with transaction() as db:
        return indexes.missing(db=db)


def _wait_until(done: Callable[[], bool], failure: str) -> None:
    deadline = time.monotonic() + 60
    while not done():
        assert time.monotonic() < deadline, failure
        time.sleep(0.05)
