"""Red/amber/green (RAG) health of a project, without a database.

``assess(*, spi=None, spi_t=None, finish_slip_days=None, cpi=None, budget=None,
open_high_risks=None, churn_risk=None, csat=None, override=None, thresholds=None) -> Rag``
rates four components from the figures given (a figure left out is not judged):

- schedule: SPI(t) (earned schedule; SPI when SPI(t) is unknown, since SPI drifts back to 1 at
  the end of a late project) and the critical path's finish slip against the baseline, in
  working days;
- cost: CPI and the budget rule (``evm.BudgetStatus``): a breach either way is amber, a
  variance beyond twice the threshold is red;
- risk: the number of open high risks;
- customer: the customer's churn risk (a probability, 0–1) and CSAT (on a 1–5 scale).

Default thresholds (``RagThresholds``): SPI / SPI(t) and CPI amber below 0.95, red below 0.90;
finish slip amber from 5 working days, red from 10; open high risks amber from 1, red from 3;
churn risk amber from 0.30, red from 0.60; CSAT amber below 4.5 (the seed's target of 4.5 out of
5), red below 3.5. A component is the worst of its signals, grey when it has none; the project
is the worst of its components. An override (colour, reason, who) decides the colour shown but
the computed colour and reasons are kept beside it. Reasons are translated sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from clientops.core.i18n import gettext as _
from clientops.projects.control.evm import BudgetStatus

Colour = Literal["green", "amber", "red", "grey"]
_RANK: dict[Colour, int] = {"grey": 0, "green": 1, "amber": 2, "red": 3}


@dataclass(frozen=True, slots=True)
class RagThresholds:
    """Where each signal turns amber and red."""

    spi_amber: float = 0.95
    spi_red: float = 0.90
    slip_amber_days: float = 5.0
    slip_red_days: float = 10.0
    cpi_amber: float = 0.95
    cpi_red: float = 0.90
    budget_red_factor: float = 2.0
    risks_amber: int = 1
    risks_red: int = 3
    churn_amber: float = 0.30
    churn_red: float = 0.60
    csat_amber: float = 4.5
    csat_red: float = 3.5


@dataclass(frozen=True, slots=True)
class RagOverride:
    """A colour set by hand, why, and by whom."""

    colour: Colour
    reason: str
    by: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RagComponent:
    """One component (schedule, cost, risk, customer): its colour and why."""

    key: str
    label: str
    colour: Colour
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rag:
    """The colour shown, the computed colour, the components and the reasons."""

    colour: Colour
    computed: Colour
    components: tuple[RagComponent, ...]
    reasons: tuple[str, ...]
    override: RagOverride | None = None

    @property
    def overridden(self) -> bool:
        """True when a person's override decides the colour shown."""
        return self.override is not None


_Signal = tuple[Colour, str]


def worst(colours: Sequence[Colour]) -> Colour:
    """The worst colour (red > amber > green > grey); grey when there is none."""
    return max(colours, key=lambda c: _RANK[c], default="grey")


def _low_is_bad(value: float, amber: float, red: float) -> Colour:
    """Red below ``red``, amber below ``amber``, else green."""
    if value < red - 1e-9:
        return "red"
    return "amber" if value < amber - 1e-9 else "green"


def _high_is_bad(value: float, amber: float, red: float) -> Colour:
    """Red from ``red``, amber from ``amber``, else green."""
    if value >= red - 1e-9:
        return "red"
    return "amber" if value >= amber - 1e-9 else "green"


def _schedule(
    spi: float | None, spi_t: float | None, slip: float | None, limits: RagThresholds
) -> list[_Signal]:
    """Signals of the schedule: SPI(t) (else SPI) and the finish slip."""
    signals: list[_Signal] = []
    index, label = (spi_t, "SPI(t)") if spi_t is not None else (spi, "SPI")
    if index is not None:
        colour = _low_is_bad(index, limits.spi_amber, limits.spi_red)
        values = {"index": label, "value": f"{index:.2f}", "limit": f"{limits.spi_amber:.2f}"}
        text = (
            _("Schedule efficiency %(index)s is %(value)s, on track (limit %(limit)s).")
            if colour == "green"
            else _("Schedule efficiency %(index)s is %(value)s, below %(limit)s.")
        )
        signals.append((colour, text % values))
    if slip is not None:
        colour = _high_is_bad(slip, limits.slip_amber_days, limits.slip_red_days)
        values = {"days": f"{slip:g}", "limit": f"{limits.slip_amber_days:g}"}
        text = (
            _("The forecast finish is within %(limit)s working days of the baseline.")
            if colour == "green"
            else _("The forecast finish is %(days)s working days later than the baseline.")
        )
        signals.append((colour, text % values))
    return signals


def _budget_colour(budget: BudgetStatus, limits: RagThresholds) -> Colour:
    """A breach of the budget rule is amber, and red beyond ``budget_red_factor`` × threshold."""
    if not budget.breached or budget.variance is None:
        return "green"
    far = abs(budget.variance) > budget.threshold * limits.budget_red_factor + 1e-12
    return "red" if far else "amber"


def _cost(cpi: float | None, budget: BudgetStatus | None, limits: RagThresholds) -> list[_Signal]:
    """Signals of cost: CPI and the budget rule."""
    signals: list[_Signal] = []
    if cpi is not None:
        colour = _low_is_bad(cpi, limits.cpi_amber, limits.cpi_red)
        values = {"value": f"{cpi:.2f}", "limit": f"{limits.cpi_amber:.2f}"}
        text = (
            _("Cost efficiency CPI is %(value)s, on track (limit %(limit)s).")
            if colour == "green"
            else _("Cost efficiency CPI is %(value)s, below %(limit)s.")
        )
        signals.append((colour, text % values))
    if budget is not None and budget.status != "unknown":
        signals.append((_budget_colour(budget, limits), budget.message))
    return signals


def _risk(open_high_risks: int | None, limits: RagThresholds) -> list[_Signal]:
    """Signal of risk: how many high risks are open."""
    if open_high_risks is None:
        return []
    colour = _high_is_bad(open_high_risks, limits.risks_amber, limits.risks_red)
    if open_high_risks == 0:
        return [(colour, _("No high risk is open."))]
    # Two messages rather than ngettext: the catalog tooling keeps singular msgids only.
    many = open_high_risks != 1
    text = _("%(n)s high risks are open.") if many else _("%(n)s high risk is open.")
    return [(colour, text % {"n": open_high_risks})]


def _customer(churn: float | None, csat: float | None, limits: RagThresholds) -> list[_Signal]:
    """Signals of the customer: churn risk and satisfaction."""
    signals: list[_Signal] = []
    if churn is not None:
        colour = _high_is_bad(churn, limits.churn_amber, limits.churn_red)
        values = {"value": f"{churn * 100:.0f}%"}
        text = (
            _("The customer's churn risk is low (%(value)s).")
            if colour == "green"
            else _("The customer's churn risk is %(value)s.")
        )
        signals.append((colour, text % values))
    if csat is not None:
        colour = _low_is_bad(csat, limits.csat_amber, limits.csat_red)
        values = {"value": f"{csat:.1f}", "limit": f"{limits.csat_amber:.1f}"}
        text = (
            _("Customer satisfaction is %(value)s of 5 (target %(limit)s).")
            if colour == "green"
            else _("Customer satisfaction is %(value)s of 5, below the target of %(limit)s.")
        )
        signals.append((colour, text % values))
    return signals


def _component(key: str, label: str, signals: list[_Signal]) -> RagComponent:
    """A component: the worst of its signals, with every signal's sentence."""
    colour = worst([c for c, _text in signals])
    reasons = tuple(text for _c, text in signals) or (_("No figures yet."),)
    return RagComponent(key=key, label=label, colour=colour, reasons=reasons)


def _headline(components: Sequence[RagComponent], computed: Colour) -> tuple[str, ...]:
    """The reasons behind the computed colour: every amber or red signal's sentence."""
    if computed == "grey":
        return (_("Not enough figures to rate the project yet."),)
    flagged = [c for c in components if c.colour in ("amber", "red")]
    if not flagged:
        return (_("Every signal is within its threshold."),)
    line = _("%(component)s: %(reason)s")
    return tuple(line % {"component": c.label, "reason": t} for c in flagged for t in c.reasons)


def assess(
    *,
    spi: float | None = None,
    spi_t: float | None = None,
    finish_slip_days: float | None = None,
    cpi: float | None = None,
    budget: BudgetStatus | None = None,
    open_high_risks: int | None = None,
    churn_risk: float | None = None,
    csat: float | None = None,
    override: RagOverride | None = None,
    thresholds: RagThresholds | None = None,
) -> Rag:
    """The project's RAG colour from its schedule, cost, risk and customer signals."""
    limits = thresholds or RagThresholds()
    components = (
        _component("schedule", _("Schedule"), _schedule(spi, spi_t, finish_slip_days, limits)),
        _component("cost", _("Cost"), _cost(cpi, budget, limits)),
        _component("risk", _("Risk"), _risk(open_high_risks, limits)),
        _component("customer", _("Customer"), _customer(churn_risk, csat, limits)),
    )
    computed = worst([c.colour for c in components])
    reasons = _headline(components, computed)
    colour = override.colour if override else computed
    return Rag(colour, computed, components, reasons, override)
