"""The weekly status report of a project, rendered to PDF bytes with reportlab.

``render(data, locale) -> bytes`` lays out a ``StatusReportData``: the title, project and
customer, period, the RAG colour with its reasons, progress and a milestones table, the earned
value figures, an S-curve chart (cumulative PV, EV and AC), the top risks, decisions needed and
free text sections. The caller passes its own strings already translated (names, reasons,
sections) and plain numbers; the report's own labels are translated here into ``locale``.

Fonts: Chinese needs no font file. Latin text is set in Helvetica and every character Helvetica
cannot encode (Chinese, full-width punctuation, symbols such as ≤) in reportlab's built-in CID
font ``STSong-Light``, which every PDF reader provides (Adobe's GB1 character collection).
"""

from __future__ import annotations

import contextvars
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from xml.sax.saxutils import escape

from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from clientops.core.i18n import gettext as _
from clientops.core.i18n import set_locale
from clientops.projects.control.evm import EvmFigures, SCurvePoint
from clientops.projects.control.rag import Colour

CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
RAG_COLOURS = {
    "green": colors.HexColor("#2e7d32"),
    "amber": colors.HexColor("#f9a825"),
    "red": colors.HexColor("#c62828"),
    "grey": colors.HexColor("#9e9e9e"),
}
SERIES_COLOURS = (
    colors.HexColor("#1565c0"),
    colors.HexColor("#2e7d32"),
    colors.HexColor("#c62828"),
)


@dataclass(frozen=True, slots=True)
class MilestoneRow:
    """A milestone line: name, baseline and forecast dates, status (all display strings)."""

    name: str
    baseline: str
    forecast: str
    status: str


@dataclass(frozen=True, slots=True)
class RiskRow:
    """A risk line: title, score (probability × impact), owner and response."""

    title: str
    score: float
    owner: str
    response: str


@dataclass(frozen=True, slots=True)
class TextSection:
    """A free text section: heading and body (paragraphs separated by blank lines)."""

    heading: str
    body: str


@dataclass(frozen=True, slots=True)
class StatusReportData:
    """Everything the weekly report shows; strings are already in the reader's language."""

    title: str
    project: str
    customer: str
    period: str
    status_date: date
    rag_colour: Colour
    rag_reasons: Sequence[str] = ()
    rag_override: str | None = None
    percent_complete: float | None = None
    milestones: Sequence[MilestoneRow] = ()
    evm: EvmFigures | None = None
    s_curve: Sequence[SCurvePoint] = ()
    risks: Sequence[RiskRow] = ()
    decisions: Sequence[str] = ()
    sections: Sequence[TextSection] = field(default_factory=tuple)
    prepared_by: str = ""


def _register_fonts() -> None:
    """Make the CID font known to reportlab (once per process)."""
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _latin(char: str) -> bool:
    """True when Helvetica (WinAnsi encoding) can show the character."""
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def mixed(text: str) -> str:
    """Paragraph markup: runs Helvetica cannot show are wrapped in the CJK font."""
    runs: list[str] = []
    for char in text:
        latin = _latin(char)
        if runs and _latin(runs[-1][-1]) == latin:
            runs[-1] += char
        else:
            runs.append(char)
    return "".join(
        escape(run) if _latin(run[0]) else f'<font name="{CJK_FONT}">{escape(run)}</font>'
        for run in runs
    )


def _styles() -> dict[str, ParagraphStyle]:
    """Paragraph styles of the report."""
    body = ParagraphStyle("body", fontName=LATIN_FONT, fontSize=9.5, leading=13)
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10),
        "badge": ParagraphStyle("badge", parent=body, fontName=LATIN_BOLD, textColor=colors.white),
        "title": ParagraphStyle("title", parent=body, fontName=LATIN_BOLD, fontSize=17, leading=22),
        "h2": ParagraphStyle(
            "h2", parent=body, fontName=LATIN_BOLD, fontSize=12, leading=16, spaceBefore=8
        ),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text in mixed fonts."""
    return Paragraph(mixed(text), style)


def _number(value: float | None, digits: int = 0) -> str:
    """A figure with thousands separators, or a dash when undefined."""
    return "—" if value is None else f"{value:,.{digits}f}"


def _percent(value: float | None) -> str:
    """A fraction as a percentage, or a dash."""
    return "—" if value is None else f"{value * 100:.1f}%"


def _table(rows: list[list[str]], widths: Sequence[float], style: ParagraphStyle) -> Table:
    """A grid whose first row is the header."""
    cells = [[_p(cell, style) for cell in row] for row in rows]
    table = Table(cells, colWidths=list(widths), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#bdbdbd")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _header(data: StatusReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Title, project, customer, period and author."""
    period = {"period": data.period, "date": data.status_date.isoformat()}
    lines = [
        _("Project: %(name)s") % {"name": data.project},
        _("Customer: %(name)s") % {"name": data.customer},
        _("Period: %(period)s · status date %(date)s") % period,
    ]
    if data.prepared_by:
        lines.append(_("Prepared by: %(name)s") % {"name": data.prepared_by})
    return [_p(data.title, st["title"]), *(_p(line, st["body"]) for line in lines)]


def _rag(data: StatusReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The health colour as a coloured cell with its reasons beside it."""
    names = {"green": _("Green"), "amber": _("Amber"), "red": _("Red"), "grey": _("Not rated")}
    reasons = list(data.rag_reasons)
    if data.rag_override:
        reasons.append(data.rag_override)
    cell = [_p(reason, st["body"]) for reason in reasons or ["—"]]
    badge = _p(names[data.rag_colour], st["badge"])
    table = Table([[badge, cell]], colWidths=[28 * mm, None])
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (0, 0), RAG_COLOURS[data.rag_colour]),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BOX", (0, 0), (-1, -1), 0.4, colors.HexColor("#bdbdbd")),
            ]
        )
    )
    return [_p(_("Health"), st["h2"]), table]


def _progress(data: StatusReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Percent complete and the milestones table."""
    parts: list[Flowable] = [_p(_("Progress and milestones"), st["h2"])]
    if data.percent_complete is not None:
        done = _percent(data.percent_complete)
        parts.append(_p(_("Work complete: %(percent)s") % {"percent": done}, st["body"]))
    if data.milestones:
        header = [_("Milestone"), _("Baseline"), _("Forecast"), _("Status")]
        rows = [[m.name, m.baseline, m.forecast, m.status] for m in data.milestones]
        parts.append(_table([header, *rows], (70 * mm, 32 * mm, 32 * mm, 36 * mm), st["small"]))
    return parts


def _evm_rows(f: EvmFigures) -> list[list[str]]:
    """Label, figure pairs of the earned value table."""
    return [
        [_("Planned value (PV)"), _number(f.pv), _("Earned value (EV)"), _number(f.ev)],
        [_("Actual cost (AC)"), _number(f.ac), _("Budget at completion (BAC)"), _number(f.bac)],
        [_("Cost variance (CV)"), _number(f.cv), _("Schedule variance (SV)"), _number(f.sv)],
        [_("Cost performance index (CPI)"), _number(f.cpi, 2), "SPI", _number(f.spi, 2)],
        [_("Earned schedule SPI(t)"), _number(f.spi_t, 2), "SV(t)", _number(f.sv_t, 1)],
        [_("Estimate at completion (EAC)"), _number(f.eac), "ETC", _number(f.etc)],
        [_("Variance at completion (VAC)"), _number(f.vac), "TCPI", _number(f.tcpi_bac, 2)],
    ]


def _evm(data: StatusReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The earned value figures and the budget rule's verdict."""
    if data.evm is None:
        return []
    header = [_("Figure"), _("Value"), _("Figure"), _("Value")]
    widths = (55 * mm, 30 * mm, 55 * mm, 30 * mm)
    return [
        _p(_("Earned value"), st["h2"]),
        _table([header, *_evm_rows(data.evm)], widths, st["small"]),
        Spacer(1, 2 * mm),
        _p(data.evm.budget.message, st["body"]),
    ]


def _series(points: Sequence[SCurvePoint]) -> list[list[tuple[float, float]]]:
    """Cumulative PV, EV and AC as (period index, value) lines; EV and AC stop at today."""
    pv = [(float(i), p.pv_cum) for i, p in enumerate(points)]
    ev = [(float(i), p.ev_cum) for i, p in enumerate(points) if p.ev_cum is not None]
    ac = [(float(i), p.ac_cum) for i, p in enumerate(points) if p.ac_cum is not None]
    return [line or [(0.0, 0.0)] for line in (pv, ev, ac)]


def _chart(points: Sequence[SCurvePoint], font: str) -> Drawing:
    """The S-curve: cumulative planned value, earned value and actual cost by period."""
    drawing = Drawing(170 * mm, 70 * mm)
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 12 * mm, 10 * mm, 110 * mm, 55 * mm
    plot.data = _series(points)
    for index, colour in enumerate(SERIES_COLOURS):
        plot.lines[index].strokeColor = colour
        plot.lines[index].strokeWidth = 1.4
    plot.xValueAxis.valueMin = 0
    plot.xValueAxis.valueMax = max(len(points) - 1, 1)
    plot.xValueAxis.labels.fontName = plot.yValueAxis.labels.fontName = LATIN_FONT
    plot.xValueAxis.labels.fontSize = plot.yValueAxis.labels.fontSize = 7
    plot.yValueAxis.valueMin = 0
    drawing.add(plot)
    legend = Legend()
    legend.x, legend.y, legend.fontName, legend.fontSize = 128 * mm, 60 * mm, font, 8
    labels = (_("Planned value (PV)"), _("Earned value (EV)"), _("Actual cost (AC)"))
    legend.colorNamePairs = list(zip(SERIES_COLOURS, labels, strict=True))
    drawing.add(legend)
    return drawing


def _curve(data: StatusReportData, st: dict[str, ParagraphStyle], font: str) -> list[Flowable]:
    """The S-curve section, when there is a curve."""
    if not data.s_curve:
        return []
    first, last = data.s_curve[0].period_end, data.s_curve[-1].period_end
    span = _("Periods from %(first)s to %(last)s") % {"first": first, "last": last}
    return [_p(_("S-curve"), st["h2"]), _chart(data.s_curve, font), _p(span, st["small"])]


def _risks(data: StatusReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The top risks table."""
    if not data.risks:
        return []
    header = [_("Risk"), _("Score"), _("Owner"), _("Response")]
    rows = [[r.title, f"{r.score:g}", r.owner, r.response] for r in data.risks]
    widths = (62 * mm, 16 * mm, 30 * mm, 62 * mm)
    return [_p(_("Top risks"), st["h2"]), _table([header, *rows], widths, st["small"])]


def _decisions(data: StatusReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Decisions the steering group is asked to take."""
    if not data.decisions:
        return []
    items = [_p(f"{n}. {text}", st["body"]) for n, text in enumerate(data.decisions, start=1)]
    return [_p(_("Decisions needed"), st["h2"]), *items]


def _sections(data: StatusReportData, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Free text sections, one paragraph per block of text."""
    parts: list[Flowable] = []
    for section in data.sections:
        parts.append(_p(section.heading, st["h2"]))
        blocks = [b.strip() for b in section.body.split("\n\n") if b.strip()]
        parts.extend(_p(block, st["body"]) for block in blocks)
    return parts


def _story(data: StatusReportData, locale: str) -> list[Flowable]:
    """Every part of the report, in order."""
    st = _styles()
    font = CJK_FONT if locale.startswith("zh") else LATIN_FONT
    return [
        *_header(data, st),
        *_rag(data, st),
        *_progress(data, st),
        *_evm(data, st),
        *_curve(data, st, font),
        *_risks(data, st),
        *_decisions(data, st),
        *_sections(data, st),
    ]


def _build(data: StatusReportData, locale: str) -> bytes:
    """Lay the report out on A4 pages in ``locale``."""
    set_locale(locale)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=data.title,
        author=data.prepared_by,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
    )
    document.build(_story(data, locale))
    return buffer.getvalue()


def render(data: StatusReportData, locale: str) -> bytes:
    """The weekly status report as PDF bytes, its labels in ``locale`` ("en" or "zh_CN")."""
    _register_fonts()
    # A copied context keeps the report's locale from leaking into the caller's request.
    return contextvars.copy_context().run(_build, data, locale)
