"""The weekly status report PDF: it parses, has its pages, and carries Chinese text."""

from __future__ import annotations

import base64
import re
import zlib
from datetime import date, timedelta

import pytest

from clientops.core import i18n
from clientops.projects.control import evm, rag
from clientops.projects.control import report_pdf as rp

pytestmark = pytest.mark.nodb  # touches no database: runs once, in the SQLite pass

STATUS = date(2026, 11, 20)


def _data(title: str, **changes: object) -> rp.StatusReportData:
    """A full report: RAG, milestones, EVM figures, S-curve, risks, decisions, free text."""
    start = date(2026, 9, 1)
    tasks = [
        evm.TaskBudget(40_000.0, start, start + timedelta(days=29), 100),
        evm.TaskBudget(60_000.0, start + timedelta(days=30), start + timedelta(days=90), 30),
    ]
    curve = evm.planned_curve(tasks=tasks)
    figures = evm.compute(tasks=tasks, actual_cost=62_000.0, status_date=STATUS)
    points = evm.s_curve(curve=curve, status_date=STATUS, earned=[(STATUS, figures.ev)],
                         costs=[(date(2026, 10, 1), 62_000.0)])  # fmt: skip
    health = rag.assess(spi_t=figures.spi_t, cpi=figures.cpi, budget=figures.budget)
    values: dict[str, object] = {
        "title": title,
        "project": "CRM 实施二期",
        "customer": "上海星辰贸易有限公司",
        "period": "2026-11-16 – 2026-11-22",
        "status_date": STATUS,
        "rag_colour": health.colour,
        "rag_reasons": health.reasons,
        "rag_override": "Override by li.na: the customer accepted the new date",
        "percent_complete": figures.percent_complete,
        "milestones": [rp.MilestoneRow("需求确认", "2026-09-30", "2026-09-30", "完成"),
                       rp.MilestoneRow("Go-live", "2026-11-30", "2026-12-18", "At risk")],
        "evm": figures,
        "s_curve": points,
        "risks": [rp.RiskRow("数据迁移延期 <R&D>", 16, "王伟", "提前试迁移")],
        "decisions": ["批准增加一名顾问"],
        "sections": [rp.TextSection("本周完成", "完成了接口开发。\n\nNext: UAT in ≤ 2 weeks.")],
        "prepared_by": "李娜",
    }  # fmt: skip
    values.update(changes)
    return rp.StatusReportData(**values)  # type: ignore[arg-type]


def _streams(pdf: bytes) -> list[bytes]:
    """Every stream of the file, decoded (ASCII85 and Flate, as reportlab writes them)."""
    decoded = []
    for match in re.finditer(rb"/Length (\d+)\s*>>\s*stream\r?\n", pdf):
        raw = pdf[match.end() : match.end() + int(match.group(1))]
        header = pdf[max(0, match.start() - 200) : match.start()]
        if b"/ASCII85Decode" in header:
            raw = base64.a85decode(raw.strip().removesuffix(b"~>"))
        if b"/FlateDecode" in header:
            raw = zlib.decompress(raw)
        decoded.append(raw)
    return decoded


ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape(literal: bytes) -> bytes:
    """The bytes of a PDF literal string (backslash escapes and octal codes resolved)."""

    def one(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        if code[:1].isdigit():
            return bytes([int(code, 8)])
        return ESCAPES.get(code, code)

    return re.sub(rb"\\([0-7]{1,3}|.)", one, literal, flags=re.S)


def shown_text(pdf: bytes) -> bytes:
    """The bytes of every string drawn by the pages' text operators."""
    lines = []
    for stream in _streams(pdf):
        # One line per text object (BT … ET); its fragments joined as they are drawn.
        for block in re.findall(rb"BT(.*?)ET", stream, flags=re.S):
            pieces = re.findall(rb"\(((?:[^\\()]|\\.)*)\)\s*Tj", block, flags=re.S)
            lines.append(b"".join(_unescape(piece) for piece in pieces))
    return b"\n".join(lines)


def page_count(pdf: bytes) -> int:
    """The page count from the page tree, checked against the page objects."""
    declared = re.search(rb"/Count (\d+) /Kids", pdf)
    assert declared, "no page tree"
    pages = re.findall(rb"/Type /Page\b(?!s)", pdf)
    assert int(declared.group(1)) == len(pages)
    return len(pages)


def cjk(text: str) -> bytes:
    """How the CID font (UniGB-UCS2-H) encodes Chinese in a text string: UTF-16 big-endian."""
    return text.encode("utf-16-be")


@pytest.fixture
def english() -> bytes:
    return rp.render(_data("Weekly status report"), "en")


@pytest.fixture
def chinese() -> bytes:
    return rp.render(_data("项目周报"), "zh_CN")


def test_english_report_is_a_pdf_with_the_figures_and_labels(english: bytes) -> None:
    assert english.startswith(b"%PDF-1.") and english.rstrip().endswith(b"%%EOF")
    assert page_count(english) >= 1
    text = shown_text(english)
    for label in (b"Weekly status report", b"Earned value", b"Planned value (PV)", b"Top risks",
                  b"Decisions needed", b"Cost performance index (CPI)"):  # fmt: skip
        assert label in text, label
    assert b"100,000" in text  # BAC with thousands separators
    assert cjk("上海星辰贸易有限公司") in text  # a Chinese customer name in an English report


def test_chinese_report_carries_the_chinese_title_and_labels(chinese: bytes) -> None:
    assert chinese.startswith(b"%PDF-")
    assert page_count(chinese) >= 1
    text = shown_text(chinese)
    for words in ("项目周报", "挣值", "主要风险", "待决策事项", "健康度", "本周完成"):
        assert cjk(words) in text, words
    assert b"/BaseFont /STSong-Light" in chinese and b"/Encoding /UniGB-UCS2-H" in chinese
    assert b"/BaseFont /Helvetica" in chinese  # Latin runs stay in Helvetica


def test_both_languages_give_different_labels_for_the_same_report(
    english: bytes, chinese: bytes
) -> None:
    assert b"Top risks" in shown_text(english) and b"Top risks" not in shown_text(chinese)
    assert cjk("主要风险") not in shown_text(english)


def test_rendering_leaves_the_callers_locale_alone(chinese: bytes) -> None:
    assert i18n.get_locale() == "en"
    rp.render(_data("项目周报"), "zh_CN")
    assert i18n.get_locale() == "en"


def test_markup_characters_in_user_text_are_shown_literally(english: bytes) -> None:
    assert b"<R&D>" in shown_text(english)


def test_a_long_report_flows_onto_more_pages() -> None:
    many = [rp.RiskRow(f"Risk {n}", n, "owner", "watch") for n in range(120)]
    assert page_count(rp.render(_data("Weekly status report", risks=many), "en")) >= 3


def test_a_report_with_only_the_essentials_renders() -> None:
    pdf = rp.render(
        rp.StatusReportData(title="项目周报", project="P", customer="C", period="W47",
                            status_date=STATUS, rag_colour="grey"),
        "zh_CN",
    )  # fmt: skip
    assert page_count(pdf) == 1
    assert cjk("未评定") in shown_text(pdf)  # "not rated"


def test_pypdf_reads_the_chinese_text_back(chinese: bytes) -> None:
    pypdf = pytest.importorskip("pypdf", reason="pypdf is not installed; bytes are checked above")
    import io

    reader = pypdf.PdfReader(io.BytesIO(chinese))
    assert "项目周报" in "".join(page.extract_text() for page in reader.pages)
