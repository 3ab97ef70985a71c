"""RAG health: each component's thresholds, the worst colour wins, overrides keep the computed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from clientops.core import i18n
from clientops.projects.control import evm, rag

pytestmark = pytest.mark.nodb  # touches no database: runs once, in the SQLite pass


def components(result: rag.Rag) -> dict[str, rag.Colour]:
    """Colour of each component by key."""
    return {c.key: c.colour for c in result.components}


def test_a_healthy_project_is_green_with_a_reason() -> None:
    budget = evm.figures(bac=1_000.0, pv=500.0, ev=500.0, ac=490.0).budget
    result = rag.assess(spi_t=1.0, finish_slip_days=0, cpi=1.02, budget=budget,
                        open_high_risks=0, churn_risk=0.1, csat=4.7)  # fmt: skip
    assert result.colour == result.computed == "green"
    assert set(components(result).values()) == {"green"}
    assert result.reasons == ("Every signal is within its threshold.",)
    assert not result.overridden


@pytest.mark.parametrize(
    ("figures", "component", "colour"),
    [
        ({"spi_t": 0.96}, "schedule", "green"),
        ({"spi_t": 0.93}, "schedule", "amber"),
        ({"spi_t": 0.85}, "schedule", "red"),
        ({"finish_slip_days": 5}, "schedule", "amber"),
        ({"finish_slip_days": 12}, "schedule", "red"),
        ({"cpi": 0.94}, "cost", "amber"),
        ({"cpi": 0.80}, "cost", "red"),
        ({"open_high_risks": 1}, "risk", "amber"),
        ({"open_high_risks": 3}, "risk", "red"),
        ({"churn_risk": 0.35}, "customer", "amber"),
        ({"churn_risk": 0.7}, "customer", "red"),
        ({"csat": 4.2}, "customer", "amber"),
        ({"csat": 3.0}, "customer", "red"),
    ],
)
def test_documented_thresholds(figures: dict[str, float], component: str, colour: str) -> None:
    result = rag.assess(**figures)  # type: ignore[arg-type]
    assert components(result)[component] == colour
    assert result.computed == colour


def test_spi_t_is_preferred_to_spi_because_spi_returns_to_one_when_late() -> None:
    result = rag.assess(spi=1.0, spi_t=0.5)
    assert components(result)["schedule"] == "red"
    assert "SPI(t)" in result.reasons[0]
    assert components(rag.assess(spi=0.93))["schedule"] == "amber"


def test_the_budget_rule_turns_cost_amber_then_red() -> None:
    over = evm.figures(bac=10_000.0, pv=1_000.0, ev=1_000.0, ac=1_070.0).budget  # −6.5%
    far_over = evm.figures(bac=10_000.0, pv=1_000.0, ev=1_000.0, ac=1_200.0).budget  # −16.7%
    under = evm.figures(bac=10_000.0, pv=1_000.0, ev=1_000.0, ac=920.0).budget  # +8.7%
    assert components(rag.assess(budget=over))["cost"] == "amber"
    assert components(rag.assess(budget=far_over))["cost"] == "red"
    assert components(rag.assess(budget=under))["cost"] == "amber"
    assert any("Over budget" in r for r in rag.assess(budget=over).reasons)


def test_the_worst_component_decides_and_only_flagged_reasons_are_headlined() -> None:
    result = rag.assess(spi_t=0.99, cpi=0.8, open_high_risks=1, csat=4.8)
    assert result.computed == "red"
    assert components(result) == {"schedule": "green", "cost": "red", "risk": "amber",
                                  "customer": "green"}  # fmt: skip
    assert len(result.reasons) == 2
    assert result.reasons[0].startswith("Cost: ") and result.reasons[1].startswith("Risk: ")
    assert result.reasons[1] == "Risk: 1 high risk is open."


def test_missing_figures_are_grey_and_not_judged() -> None:
    result = rag.assess(cpi=1.0)
    assert components(result)["schedule"] == "grey"
    assert result.computed == "green"
    assert rag.assess().computed == "grey"
    assert rag.assess().reasons == ("Not enough figures to rate the project yet.",)


def test_an_override_wins_but_the_computed_colour_is_kept() -> None:
    override = rag.RagOverride("green", "Customer agreed the new go-live date", "li.na",
                               datetime(2026, 11, 20, 9, 0))  # fmt: skip
    result = rag.assess(spi_t=0.8, override=override)
    assert result.colour == "green" and result.computed == "red"
    assert result.overridden and result.override is override
    assert result.reasons[0].startswith("Schedule: ")


def test_thresholds_are_configurable() -> None:
    strict = rag.RagThresholds(cpi_amber=0.99, cpi_red=0.97)
    assert components(rag.assess(cpi=0.98, thresholds=strict))["cost"] == "amber"
    assert components(rag.assess(cpi=0.98))["cost"] == "green"


@pytest.fixture
def chinese() -> Iterator[None]:
    i18n.set_locale("zh_CN")
    yield
    i18n.set_locale("en")


@pytest.mark.usefixtures("chinese")
def test_reasons_are_translated() -> None:
    result = rag.assess(cpi=0.8, open_high_risks=2)
    assert result.reasons[0] == "成本：成本绩效指数 CPI 为 0.80，低于 0.95。"
    assert components(result)["risk"] == "amber"
    assert {c.label for c in result.components} == {"进度", "成本", "风险", "客户"}
