"""Reading customer-supplied CSV, TSV, XLSX and XLS files into cleaned rows, safely.

Plumbing only: it knows nothing of what the columns mean. Every problem is a
:class:`TabularError` whose ``errors`` maps a field to a code, with context such as
``row``, ``column`` or ``line`` as further entries.

Row numbers are the ones a person sees when opening the file in Excel or WPS: for an
XLSX/XLS sheet the spreadsheet row; for CSV the 1-based *record* number, so a quoted cell
spanning three physical lines still counts as one row (the header is row 1 when it is the
first record). NUL-byte and encoding errors, found before parsing, report a physical
``line`` instead.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import charset_normalizer
from python_calamine import CalamineError, CalamineWorkbook, PasswordError

from clientops.core.normalise import clean_text
from clientops.exceptions import InvalidInput

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
_DELIMITERS = ",;\t|"
_SNIFF_LINES = 20
_DETECT_SAMPLE = 1024 * 1024
_GB_FAMILY = {"gbk", "gb2312", "cp936", "hz"}
_FALLBACK_ENCODINGS = ("gb18030",)

_SCIENTIFIC = re.compile(r"[+-]?\d+(?:\.\d+)?[eE]\+?\d+")
_FLOAT_SUFFIX = re.compile(r"[+-]?\d{5,}\.0+")


class TabularError(InvalidInput):
    """The file cannot be read as a table; ``errors`` maps a field to a code plus context."""


@dataclass(frozen=True)
class Limits:
    """Bounds on what a single upload may cost to read."""

    max_bytes: int = 200 * 1024 * 1024
    max_rows: int = 5_000_000
    max_unzipped_bytes: int = 1024 * 1024 * 1024
    max_ratio: int = 200


@dataclass(frozen=True)
class Table:
    """An opened table: cleaned headers and a lazy iterator of ``(row number, cells)``.

    ``rows`` yields each non-empty data row once, with exactly ``len(headers)`` cleaned
    cells. It may raise :class:`TabularError` while iterating (``too_many_rows``,
    ``too_many_cells``, ``malformed_row``).
    """

    headers: list[str]
    encoding: str | None
    delimiter: str | None
    confident: bool
    rows: Iterator[tuple[int, list[str]]]


def clean_cell(value: str) -> str:
    """NFKC-normalised text without invisible or control characters, whitespace collapsed.

    Full-width letters, digits and spaces become their ASCII forms; zero-width and bidi
    control characters are removed; line breaks and tabs inside a cell become one space.
    """
    return clean_text(value)


def excel_damage(value: str) -> str | None:
    """The code of a mangling Excel applies to long numbers, or ``None`` when none is seen.

    ``"1.38E+10"`` is ``scientific_notation`` (digits were lost); ``"13800138000.0"`` is
    ``float_suffix`` (only flagged with five or more integer digits, so ``"1.0"`` passes).
    Lost leading zeros cannot be told from a single cell and are not reported.
    """
    text = value.strip()
    if _SCIENTIFIC.fullmatch(text):
        return "scientific_notation"
    if _FLOAT_SUFFIX.fullmatch(text):
        return "float_suffix"
    return None


def open_table(
    path: Path,
    *,
    limits: Limits = Limits(),
    sheet: str | int = 0,
    encoding: str | None = None,
) -> Table:
    """Open a CSV/TSV or XLSX/XLS file, chosen by its content, and read its header row.

    Size, encoding, NUL-byte, zip-bomb and header problems raise :class:`TabularError`
    here; row-level problems and ``too_many_rows`` are raised while iterating ``rows``.
    ``sheet`` (index or name) applies to workbooks; ``encoding`` to text files.
    """
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise TabularError({"file": "not_found"}) from exc
    if size > limits.max_bytes:
        raise TabularError({"file": "too_large", "limit": str(limits.max_bytes)})
    if size == 0:
        raise TabularError({"file": "empty_file"})
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic == _ZIP_MAGIC:
        _check_zip(path, limits)
        return _open_workbook(path, limits, sheet)
    if magic == _OLE_MAGIC:
        return _open_workbook(path, limits, sheet)
    return _open_text(path.read_bytes(), limits, encoding)


def _check_zip(path: Path, limits: Limits) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise TabularError({"file": "not_a_table"}) from exc
    total = 0
    for member in members:
        total += member.file_size
        if member.file_size / max(member.compress_size, 1) > limits.max_ratio:
            raise TabularError({"file": "zip_bomb", "member": member.filename})
        if total > limits.max_unzipped_bytes:
            raise TabularError({"file": "zip_bomb", "member": member.filename})


def _open_workbook(path: Path, limits: Limits, sheet: str | int) -> Table:
    try:
        with open(path, "rb") as handle, CalamineWorkbook.from_filelike(handle) as book:
            try:
                found = (
                    book.get_sheet_by_name(sheet)
                    if isinstance(sheet, str)
                    else book.get_sheet_by_index(sheet)
                )
            except (CalamineError, IndexError, LookupError) as exc:
                raise TabularError({"sheet": "sheet_not_found", "name": str(sheet)}) from exc
            start = found.start
            values = found.to_python(skip_empty_area=True)
    except PasswordError as exc:
        raise TabularError({"file": "encrypted"}) from exc
    except CalamineError as exc:
        raise TabularError({"file": "not_a_table"}) from exc
    first_row, first_col = start if start is not None else (0, 0)
    records = (
        (first_row + index + 1, [_excel_text(cell) for cell in row])
        for index, row in enumerate(values)
    )
    return _build(records, limits, first_col, encoding=None, delimiter=None, confident=True)


def _excel_text(value: object) -> str:
    """A workbook cell as the user saw it, before cleaning."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _open_text(data: bytes, limits: Limits, encoding: str | None) -> Table:
    chosen, confident = _choose_encoding(data, encoding)
    try:
        text = data.decode(chosen)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TabularError({"file": "encoding", "encoding": chosen, "line": str(line)}) from exc
    nul = text.find("\x00")
    if nul >= 0:
        raise TabularError({"file": "nul_byte", "line": str(text.count("\n", 0, nul) + 1)})
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    return _build(
        _csv_records(reader), limits, 0, encoding=chosen, delimiter=delimiter, confident=confident
    )


def _csv_records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    number = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise TabularError({"file": "malformed_row", "row": str(number + 1)}) from exc
        number += 1
        yield number, row


def _choose_encoding(data: bytes, explicit: str | None) -> tuple[str, bool]:
    if explicit is not None:
        try:
            return codecs.lookup(explicit).name, True
        except LookupError as exc:
            raise TabularError({"file": "encoding", "encoding": explicit}) from exc
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", True
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32", True
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", True
    if _decodes(data, "utf-8"):
        return "utf-8", True
    return _guess_encoding(data)


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _guess_encoding(data: bytes) -> tuple[str, bool]:
    sample = data[:_DETECT_SAMPLE]
    if len(data) > _DETECT_SAMPLE and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]
    matches = list(charset_normalizer.from_bytes(sample))
    if matches:
        best = matches[0]
        name = _codec_name(best.encoding)
        rivals = [m for m in matches[1:] if _codec_name(m.encoding) != name]
        clear = best.chaos < 0.2 and (not rivals or rivals[0].chaos - best.chaos >= 0.1)
        return name, clear
    for name in _FALLBACK_ENCODINGS:
        if _decodes(data, name):
            return name, False
    raise TabularError({"file": "encoding"})


def _codec_name(name: str) -> str:
    canonical = codecs.lookup(name).name
    return "gb18030" if canonical in _GB_FAMILY else canonical


def _sniff_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[: _SNIFF_LINES * 2] if line.strip()]
    if not lines:
        return ","
    header = lines[0]
    try:
        found = csv.Sniffer().sniff("\n".join(lines[:_SNIFF_LINES]), _DELIMITERS).delimiter
    except csv.Error:
        found = ""
    if found and found in header:
        return found
    counts = {candidate: header.count(candidate) for candidate in _DELIMITERS}
    best = max(counts, key=lambda candidate: counts[candidate])
    return best if counts[best] else ","


def _build(
    records: Iterable[tuple[int, Sequence[str]]],
    limits: Limits,
    first_col: int,
    *,
    encoding: str | None,
    delimiter: str | None,
    confident: bool,
) -> Table:
    iterator = iter(records)
    headers: list[str] | None = None
    for _, raw in iterator:
        cells = [clean_cell(cell) for cell in raw]
        if any(cells):
            headers = _check_headers(cells, first_col)
            break
    if headers is None:
        raise TabularError({"file": "empty_file"})
    return Table(
        headers=headers,
        encoding=encoding,
        delimiter=delimiter,
        confident=confident,
        rows=_data_rows(iterator, len(headers), limits.max_rows),
    )


def _check_headers(cells: list[str], first_col: int) -> list[str]:
    while cells and not cells[-1]:
        cells.pop()
    seen: set[str] = set()
    for index, name in enumerate(cells):
        if not name:
            raise TabularError({"header": "empty_header", "column": str(first_col + index + 1)})
        key = name.casefold()
        if key in seen:
            raise TabularError({"header": "duplicate_header", "column": name})
        seen.add(key)
    return cells


def _data_rows(
    records: Iterator[tuple[int, Sequence[str]]], width: int, max_rows: int
) -> Iterator[tuple[int, list[str]]]:
    count = 0
    for number, raw in records:
        cells = [clean_cell(cell) for cell in raw]
        if not any(cells):
            continue
        if len(cells) > width:
            if any(cells[width:]):
                raise TabularError({"cells": "too_many_cells", "row": str(number)})
            del cells[width:]
        elif len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        count += 1
        if count > max_rows:
            raise TabularError({"file": "too_many_rows", "limit": str(max_rows)})
        yield number, cells
