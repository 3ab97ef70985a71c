"""The work of ``clientops dedupe``: read a CSV file, cluster its rows into people, write them.

No server and no app database: the file is read with DuckDB's CSV reader (UTF-8 and UTF-16;
other encodings through :mod:`clientops.core.tabular`), the rows go through
:func:`clientops.identity.engine.match`, and ``id,cluster_id`` is written for every row.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from clientops.core.csvsafe import safe_cell
from clientops.core.i18n import gettext
from clientops.identity import engine

_DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "utf-8-sig": "utf-8", "utf-16": "utf-16"}
_SHOWN_DUPLICATES = 5
_PAIR_COLUMNS = ("left", "right", "probability", "match_weight", "rule")


class DedupeError(Exception):
    """The command cannot run as asked (a user error: bad option, column or file)."""


@dataclass(frozen=True)
class Field:
    """A column of the file and the role it plays (one of :data:`engine.ROLES`)."""

    column: str
    role: str


def parse_fields(specs: Sequence[str]) -> list[Field]:
    """``["手机:phone", "Name:name"]`` → fields; unknown roles and roles given twice are errors."""
    fields: list[Field] = []
    for spec in specs:
        column, sep, role = spec.rpartition(":")
        role = role.strip().lower()
        if not sep or not column.strip():
            raise DedupeError(gettext("--field %(spec)s: expected COLUMN:ROLE") % {"spec": spec})
        if role not in engine.ROLES:
            raise DedupeError(
                gettext("--field %(spec)s: unknown role %(role)s (roles: %(roles)s)")
                % {"spec": spec, "role": role, "roles": ", ".join(engine.ROLES)}
            )
        if any(f.role == role for f in fields):
            raise DedupeError(gettext("role %(role)s is given twice") % {"role": role})
        fields.append(Field(column.strip(), role))
    if not fields:
        raise DedupeError(gettext("give at least one --field COLUMN:ROLE"))
    return fields


def read_records(
    path: Path, id_column: str, fields: Sequence[Field], encoding: str | None = None
) -> pa.Table:
    """The file's rows as a table of ``id`` and one column per role, all strings."""
    if not path.is_file():
        raise DedupeError(gettext("file not found: %(path)s") % {"path": path})
    table = _read_with_duckdb(path, encoding) if _duckdb_can_read(path, encoding) else None
    if table is None:
        table = _read_with_tabular(path, encoding)
    wanted = [id_column, *(f.column for f in fields)]
    missing = [c for c in dict.fromkeys(wanted) if c not in table.column_names]
    if missing:
        raise DedupeError(
            gettext("column not found: %(columns)s (the file has: %(have)s)")
            % {"columns": ", ".join(missing), "have": ", ".join(table.column_names)}
        )
    records = pa.table(
        {"id": table.column(id_column), **{f.role: table.column(f.column) for f in fields}}
    )
    _check_ids(records)
    return records


def _duckdb_can_read(path: Path, encoding: str | None) -> bool:
    if encoding is not None:
        return encoding.lower() in _DUCKDB_ENCODINGS
    with path.open("rb") as handle:
        head = handle.read(4)
    return not head.startswith((b"\xff\xfe", b"\xfe\xff"))


def _read_with_duckdb(path: Path, encoding: str | None) -> pa.Table | None:
    """The whole file through DuckDB's CSV reader; None when it cannot (then Python reads it)."""
    name = _DUCKDB_ENCODINGS.get((encoding or "utf-8").lower(), "utf-8")
    con = duckdb.connect(":memory:")
    try:
        relation = con.read_csv(
            str(path), header=True, all_varchar=True, encoding=name, sample_size=-1
        )
        table = relation.to_arrow_table()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return table


def _read_with_tabular(path: Path, encoding: str | None) -> pa.Table:
    from clientops.core.tabular import TabularError, open_table

    try:
        opened = open_table(path, encoding=encoding)
        rows = [cells for _, cells in opened.rows]
    except TabularError as exc:
        raise DedupeError(gettext("cannot read the file: %(why)s") % {"why": exc}) from exc
    if len(set(opened.headers)) != len(opened.headers):
        raise DedupeError(gettext("the file has duplicate column names"))
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in opened.headers]
    return pa.table(
        {h: pa.array(list(c), pa.string()) for h, c in zip(opened.headers, columns, strict=True)}
    )


def _check_ids(records: pa.Table) -> None:
    ids = records.column("id")
    blank = pc.or_kleene(pc.is_null(ids), pc.equal(pc.utf8_trim_whitespace(ids), ""))
    empty = pc.sum(blank).as_py()
    if empty:
        raise DedupeError(gettext("%(n)s rows have an empty id") % {"n": empty})
    counts = pc.value_counts(ids)
    repeated = [str(item["values"]) for item in counts.to_pylist() if item["counts"] > 1]
    if repeated:
        raise DedupeError(
            gettext("duplicate ids (%(n)s), e.g. %(ids)s")
            % {"n": len(repeated), "ids": ", ".join(repeated[:_SHOWN_DUPLICATES])}
        )


def write_clusters(path: Path, ids: Sequence[str], cluster_of: dict[str, str]) -> None:
    """``id,cluster_id`` for every id, in the file's order, formula-safe."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("id", "cluster_id"))
        writer.writerows((safe_cell(i), safe_cell(cluster_of[i])) for i in ids)


def write_pairs(path: Path, pairs: pa.Table) -> None:
    """The matched pairs: ``left,right,probability,match_weight,rule``."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(_PAIR_COLUMNS)
        columns = [pairs.column(c).to_pylist() for c in _PAIR_COLUMNS]
        for left, right, probability, weight, rule in zip(*columns, strict=True):
            writer.writerow(
                (
                    safe_cell(left),
                    safe_cell(right),
                    f"{probability:.6f}",
                    f"{weight or 0:.3f}",
                    rule,
                )
            )


def run(
    path: Path,
    *,
    id_column: str,
    fields: Sequence[Field],
    out: Path,
    threshold: float = 0.5,
    encoding: str | None = None,
    pairs_out: Path | None = None,
    seed: int = 1,
) -> dict[str, Any]:
    """Cluster the rows of ``path`` and write them to ``out``; returns the summary."""
    if not 0.0 < threshold <= 1.0:
        raise DedupeError(gettext("--threshold must be above 0 and at most 1"))
    started = time.perf_counter()
    records = read_records(path, id_column, fields, encoding)
    read_seconds = time.perf_counter() - started
    result = engine.match(records, min_probability=threshold, seed=seed, explain=False)
    ids = [str(i) for i in records.column("id").to_pylist()]
    edges = zip(
        result.pairs.column("left").to_pylist(),
        result.pairs.column("right").to_pylist(),
        strict=True,
    )
    cluster_of = engine.cluster_edges(ids, edges)
    write_clusters(out, ids, cluster_of)
    if pairs_out is not None:
        write_pairs(pairs_out, result.pairs)
    rules = result.pairs.column("rule").to_pylist()
    return {
        "records": result.records,
        "pairs_compared": result.pairs_compared,
        "pairs_matched": result.pairs.num_rows,
        "pairs_by_rule": {rule: rules.count(rule) for rule in sorted(set(rules))},
        "clusters": len(set(cluster_of.values())),
        "duplicates": result.records - len(set(cluster_of.values())),
        "threshold": threshold,
        "model_trained": result.trained,
        "comparisons": list(result.comparisons),
        "stage_seconds": {"read": round(read_seconds, 2), **result.seconds},
        "seconds": round(time.perf_counter() - started, 2),
    }
