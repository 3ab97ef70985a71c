"""Turning an opened file into staged batches: every row validated, file-wide checks applied.

File-wide checks need more than one row: a key seen on an earlier row (duplicates are errors
on the later rows), identifiers that lost their leading zeros (``123`` in a column of
``00123``-style ids), invisible characters that the reader cleans away (so the raw file is
scanned for them) and, for orders given line by line, the lines of one order kept together.
The same raw scan tells whether the reader can refuse the file past its first rows (a malformed
row, too many rows or cells): when it cannot, batches may be written while later ones are staged.

A staged entry is ``[row numbers, cells of those rows, values]`` (several rows only for an
order given line by line); a report entry is ``[row numbers, cells, errors]``.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import re
import threading
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from clientops.core.tabular import Limits, Table, TabularError, open_table
from clientops.imports.validate import Lookup, RowErrors, RowValidator

Entry = list[Any]
BatchSink = Callable[[list[Entry], list[Entry]], None]

HIDDEN = re.compile(
    "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
)
"""Zero-width, bidirectional-control and control characters: invisible, and used to spoof."""
ORDER_FIELDS_THAT_AGREE = (
    "customer_external_id", "phone_key", "email_key", "ordered_at", "amount", "currency",
    "channel", "status",
)  # fmt: skip
ZERO_PADDED = ("external_id", "customer_external_id", "number")


def pack(value: Any) -> bytes:
    """Compact, compressed JSON for a staged batch."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return zlib.compress(text.encode("utf-8"), 1)


def unpack(data: bytes) -> Any:
    """The value ``pack`` stored."""
    return json.loads(zlib.decompress(data).decode("utf-8"))


_GC_LOCK = threading.Lock()
_GC_USERS = [0]
_GC_SAVED: list[tuple[int, int, int]] = []
BULK_GC_THRESHOLDS = (10_000, 50, 1_000)
"""Young collections as usual, full ones (which walk every live object) all but never."""


@contextmanager
def bulk_gc() -> Iterator[None]:
    """Relax the garbage collector while rows are staged or written.

    A batch keeps tens of thousands of containers alive; with the default thresholds the
    collector walks the whole heap every few thousand rows, a third of the import's time.
    Young garbage (cycles included) is still collected. Shared by threads: the first to enter
    sets the thresholds, the last to leave restores them.
    """
    with _GC_LOCK:
        if _GC_USERS[0] == 0:
            _GC_SAVED.append(gc.get_threshold())
            gc.set_threshold(*BULK_GC_THRESHOLDS)
        _GC_USERS[0] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_USERS[0] -= 1
            if _GC_USERS[0] == 0:
                gc.set_threshold(*_GC_SAVED.pop())


# --- the raw scan --------------------------------------------------------------------------

_UNICODE_ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-32")
_MIXED_MIN_CHARS = 4


def check_mixed_encoding(path: Path, table: Table) -> None:
    """Refuse a legacy-encoded (GBK...) file in which some lines are UTF-8: decoding it either
    way garbles part of it. A line counts as UTF-8 when it decodes as UTF-8 with at least four
    non-ASCII characters (a GBK line almost never does)."""
    if table.encoding is None or table.encoding in _UNICODE_ENCODINGS:
        return
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if line.isascii():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if sum(1 for char in text if ord(char) > 127) >= _MIXED_MIN_CHARS:
            raise TabularError({"file": "mixed_encoding", "line": str(number)})


@dataclass
class Scan:
    """What only the raw file shows: cells with invisible characters, ids short of zeros, and
    whether the reader will read every row (``readable``; ``records``: non-empty records)."""

    hidden: dict[int, set[int]] = field(default_factory=dict)
    short_ids: dict[int, set[int]] = field(default_factory=dict)
    readable: bool = False
    records: int = 0


@dataclass
class _Widths:
    rows: array[int] = field(default_factory=lambda: array("q"))
    lengths: array[int] = field(default_factory=lambda: array("H"))
    padded: set[int] = field(default_factory=set)

    def see(self, number: int, value: str) -> None:
        if not (value.isascii() and value.isdigit()):
            return
        if value[0] == "0" and len(value) > 1:
            self.padded.add(len(value))
        else:
            self.rows.append(number)
            self.lengths.append(min(len(value), 65_535))

    def short(self) -> Iterator[int]:
        if len(self.padded) != 1:
            return  # no zero-padded ids, or of several widths: nothing to compare with
        (width,) = self.padded
        for number, length in zip(self.rows, self.lengths, strict=True):
            if length < width:
                yield number


def scan_file(
    path: Path,
    table: Table,
    *,
    mapped: list[int],
    id_columns: list[int],
    max_rows: int,
    sheet: str | int = 0,
) -> Scan:
    """Invisible characters in the mapped columns, ids that lost leading zeros, and whether
    the reader will get to the end of the file (see ``Scan.readable``)."""
    records: _Records
    if table.encoding is None:
        records = _Records(_workbook_records(path, sheet))
        hidden_possible = True
    else:
        text = path.read_bytes().decode(table.encoding)
        hidden_possible = HIDDEN.search(text) is not None
        # Strict, as the reader is: a row it refuses ends the scan unproven.
        reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=table.delimiter or ",", strict=True
        )
        records = _Records(enumerate(reader, start=1))
    scan = _scan(records, mapped if hidden_possible else [], id_columns)
    scan.records = records.count
    width = len(table.headers)
    scan.readable = records.complete and records.count <= max_rows and records.width <= width
    return scan


class _Records:
    """Numbered raw records, noting how far they went: non-empty records, the widest record
    (trailing empty cells aside), and whether the end of the file was reached."""

    def __init__(self, records: Iterable[tuple[int, list[str]]]) -> None:
        self.records = iter(records)
        self.count = 0
        self.width = 0
        self.complete = False

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        try:
            for number, cells in self.records:
                used = _used_width(cells)
                if used:
                    self.count += 1
                    self.width = max(self.width, used)
                yield number, cells
        except csv.Error:
            return  # the reader reports malformed rows itself
        self.complete = True


def _used_width(cells: list[str]) -> int:
    """Cells up to the last non-empty one (raw: a cell of spaces counts)."""
    for index in range(len(cells) - 1, -1, -1):
        if cells[index]:
            return index + 1
    return 0


def _workbook_records(path: Path, sheet: str | int) -> Iterator[tuple[int, list[str]]]:
    with open(path, "rb") as handle, CalamineWorkbook.from_filelike(handle) as book:
        found = (
            book.get_sheet_by_name(sheet)
            if isinstance(sheet, str)
            else (book.get_sheet_by_index(sheet))
        )
        start = found.start
        values = found.to_python(skip_empty_area=True)
    first_row = start[0] if start is not None else 0
    for index, row in enumerate(values):
        yield first_row + index + 1, [_cell_text(value) for value in row]


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _scan(
    records: Iterable[tuple[int, list[str]]], hidden_columns: list[int], id_columns: list[int]
) -> Scan:
    scan = Scan()
    widths = {column: _Widths() for column in id_columns}
    header_seen = False
    for number, cells in records:
        if not header_seen:
            header_seen = any(cell.strip() for cell in cells)
            continue
        for column in hidden_columns:
            if column < len(cells) and HIDDEN.search(cells[column]):
                scan.hidden.setdefault(number, set()).add(column)
        for column, seen in widths.items():
            if column < len(cells) and cells[column]:
                seen.see(number, cells[column].strip())
    for column, seen in widths.items():
        for number in seen.short():
            scan.short_ids.setdefault(number, set()).add(column)
    return scan


# --- staging -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageSpec:
    """All it takes to stage a file somewhere else (another process): how to open it, how to
    validate its rows, and what the raw scan found."""

    path: Path
    encoding: str | None
    sheet: str | int
    limits: Limits
    kind: str
    mapping: dict[str, str | None]
    lookup: Lookup
    scan: Scan

    def open(self) -> tuple[Table, RowValidator]:
        """The file opened as a table, and the validator of its rows."""
        table = open_table(self.path, limits=self.limits, encoding=self.encoding, sheet=self.sheet)
        return table, RowValidator(self.kind, table.headers, self.mapping, self.lookup)


_Validated = tuple[int, list[str], dict[str, Any], RowErrors]


@dataclass
class StageCounts:
    """Rows read, rows staged to write, rows failed."""

    total: int = 0
    valid: int = 0
    failed: int = 0


@dataclass
class _Order:
    """An order given line by line, collected until its number changes."""

    rows: list[int]
    cells: list[list[str]]
    values: dict[str, Any]
    errors: RowErrors


class Stager:
    """Feeds rows through the validator and file-wide checks into batches for ``sink``."""

    def __init__(
        self, validator: RowValidator, scan: Scan, batch_size: int, sink: BatchSink
    ) -> None:
        self.validator = validator
        self.scan = scan
        self.batch_size = batch_size
        self.sink = sink
        self.seen: dict[tuple[str, str], int] = {}
        self.batch: list[Entry] = []
        self.report: list[Entry] = []
        self.counts = StageCounts()
        self.order: _Order | None = None
        self.headers = validator.headers

    def run(self, rows: Iterable[tuple[int, list[str]]]) -> StageCounts:
        """Stage every row; the last, partial batch included."""
        for number, cells, values, errors in self._validated(rows):
            self.counts.total += 1
            self._raw_checks(number, errors)
            if self.validator.has_lines:
                self._order_line(number, cells, values, errors)
            else:
                self._single(number, cells, values, errors)
        self._close_order()
        self._flush(force=True)
        return self.counts

    def _validated(self, rows: Iterable[tuple[int, list[str]]]) -> Iterator[_Validated]:
        for number, cells in rows:
            yield (number, cells, *self.validator.validate(cells))

    def _raw_checks(self, number: int, errors: RowErrors) -> None:
        for column in sorted(self.scan.hidden.get(number, ())):
            errors.insert(0, (self.headers[column], "hidden_characters", ""))
        for column in sorted(self.scan.short_ids.get(number, ())):
            errors.insert(0, (self.headers[column], "leading_zeros_lost", ""))

    def _duplicate(self, number: int, values: dict[str, Any], errors: RowErrors) -> None:
        key = self.validator.key(values)
        if key is None:
            return
        first = self.seen.setdefault(key, number)
        if first != number:
            errors.append((self.validator.key_column(key), "duplicate_key", str(first)))

    def _single(
        self, number: int, cells: list[str], values: dict[str, Any], errors: RowErrors
    ) -> None:
        if not errors:
            self._duplicate(number, values, errors)
        if errors:
            self._fail([number], [cells], errors)
        else:
            self.batch.append([[number], [cells], values])
            self.counts.valid += 1
            self._flush()

    def _order_line(
        self, number: int, cells: list[str], values: dict[str, Any], errors: RowErrors
    ) -> None:
        order = self.order
        if order is not None and values.get("number") == order.values.get("number"):
            for name in ORDER_FIELDS_THAT_AGREE:
                if name in values and values.get(name) != order.values.get(name) and not errors:
                    errors.append((self.validator.columns.get(name, ""), "order_conflict", ""))
            order.rows.append(number)
            order.cells.append(cells)
            order.errors.extend(errors)
            if "line" in values:
                order.values.setdefault("lines", []).append(values["line"])
            return
        self._close_order()
        self._flush()
        if not errors:
            first = self.seen.setdefault(("number", values["number"]), number)
            if first != number:
                column = self.validator.columns.get("number", "")
                errors.append((column, "order_lines_apart", str(first)))
        line = values.pop("line", None)
        if line is not None:
            values["lines"] = [line]
        self.order = _Order([number], [cells], values, errors)

    def _close_order(self) -> None:
        order, self.order = self.order, None
        if order is None:
            return
        if order.errors:
            self._fail(order.rows, order.cells, order.errors)
            return
        amounts = [line[4] for line in order.values.get("lines", [])]
        if "amount" not in order.values and amounts:
            order.values["amount"] = str(sum(map(Decimal, amounts)))
        self.batch.append([order.rows, order.cells, order.values])
        self.counts.valid += len(order.rows)

    def _fail(self, rows: list[int], cells: list[list[str]], errors: RowErrors) -> None:
        self.report.append([rows, cells, [list(error) for error in errors]])
        self.counts.failed += len(rows)

    def _flush(self, *, force: bool = False) -> None:
        if self.order is not None and not force:
            return  # an order's lines are never split across batches
        full = len(self.batch) >= self.batch_size or len(self.report) >= self.batch_size
        if full or (force and (self.batch or self.report)):
            batch, report = self.batch, self.report
            self.batch, self.report = [], []
            self.sink(batch, report)
