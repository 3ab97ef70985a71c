"""Analytics pages: overview, R×F grid, scored-customer lists (the "at risk" work list), tiers,
lifecycle, CLV, churn models, cohorts, rule editors. Charts are inline SVG drawn here; the
pages read the score tables and never recompute."""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from clientops.analytics import flows, service
from clientops.analytics.models import RULE_KINDS, STAGES, TIERS
from clientops.auth.deps import SessionDep, access
from clientops.core.access import Principal
from clientops.core.i18n import N_
from clientops.core.types import RecordId
from clientops.core.web import hx_redirect, render
from clientops.exceptions import InvalidInput

router = APIRouter(prefix="/analytics")

Reader = Annotated[Principal, Depends(access("analytics:read"))]
Manager = Annotated[Principal, Depends(access("analytics:manage"))]
Kind = Annotated[str, Path(pattern="^(" + "|".join(RULE_KINDS) + ")$")]

TIER_COLOURS = {"diamond": "#5b6ee1", "gold": "#d4a017", "silver": "#9aa5b1", "bronze": "#b87333"}
KIND_TITLES = {
    "rfm": N_("RFM scores"),
    "segments": N_("RFM segments"),
    "tiers": N_("Value tiers"),
    "stages": N_("Lifecycle stages"),
    "health": N_("Health weights"),
}
BAR = {"width": 560, "height": 200, "left": 40, "bottom": 28, "top": 10}


def _filter(request: Request) -> service.ScoreFilter:
    q = request.query_params

    def score(key: str) -> int | None:
        value = q.get(key, "")
        return int(value) if value in ("1", "2", "3", "4", "5") else None

    return service.ScoreFilter(
        tier=q.get("tier") if q.get("tier") in TIERS else None,
        stage=q.get("stage") if q.get("stage") in STAGES else None,
        segment=(q.get("segment") or None) and q.get("segment", "")[:40],
        risk=q.get("risk") if q.get("risk") in service.RISK_BANDS else None,
        health=q.get("health") if q.get("health") in service.HEALTH_BANDS else None,
        r=score("r"),
        f=score("f"),
        sort=str(q.get("sort")) if q.get("sort") in service.SORTS else "value_at_risk",
    )


def bars(groups: list[dict[str, Any]], keys: list[str], top: float = 1.0) -> dict[str, Any]:
    """Coordinates of a grouped bar chart: one group per item, one bar per key (0..top)."""
    c = BAR
    inner_w, inner_h = c["width"] - c["left"] - 8, c["height"] - c["top"] - c["bottom"]
    slot = inner_w / max(len(groups), 1)
    width = slot * 0.8 / max(len(keys), 1)
    out = []
    for i, group in enumerate(groups):
        x0 = c["left"] + i * slot + slot * 0.1
        items = []
        for j, key in enumerate(keys):
            value = float(group.get(key) or 0.0)
            h = inner_h * min(max(value / top, 0.0), 1.0) if top else 0.0
            items.append(
                {
                    "x": round(x0 + j * width, 1),
                    "y": round(c["top"] + inner_h - h, 1),
                    "w": round(width - 2, 1),
                    "h": round(h, 1),
                    "key": key,
                    "value": value,
                }
            )
        out.append({"label": group["label"], "x": round(x0 + slot * 0.4, 1), "bars": items})
    grid = [{"y": c["top"] + inner_h * (1 - s), "label": top * s} for s in (0, 0.5, 1)]
    return {"groups": out, "grid": grid, "base": c["top"] + inner_h, **c}


@router.get("")
def overview(request: Request, db: SessionDep, principal: Reader) -> Response:
    """Headline figures, tiers, stages and segments of the visible customers, latest runs."""
    figures = service.overview(db=db, principal=principal)
    runs = service.list_runs(db=db, principal=principal, limit=5)
    tiers = [{**t, "label": t["tier"]} for t in figures["tiers"]]
    context = {
        "o": figures,
        "runs": runs,
        "tier_chart": bars(tiers, ["customer_share", "revenue_share"]),
        "stages": STAGES,
        "colours": TIER_COLOURS,
    }
    return render(request, "analytics/overview.html", context)


@router.post("/runs")
async def start_run(request: Request, db: SessionDep, principal: Manager) -> Response:
    """Queue a scoring run now (its progress is on the job's page)."""
    form = await request.form()
    job = flows.submit_run(
        db=db,
        principal=principal,
        as_of=str(form.get("as_of") or "") or None,
        train_churn=form.get("train_churn") == "on",
    )
    return hx_redirect(request, f"/jobs/{job.id}")


@router.get("/rfm")
def rfm_grid(request: Request, db: SessionDep, principal: Reader) -> Response:
    """The R×F grid: customers and 12-month revenue per cell; a cell opens its customers."""
    grid = service.rf_grid(db=db, principal=principal)
    most = max((n for n, _v in grid.values()), default=0)
    return render(request, "analytics/rfm.html", {"grid": grid, "most": most})


@router.get("/customers")
def customers(request: Request, db: SessionDep, principal: Reader) -> Response:
    """Scored customers by tier, stage, segment, risk or health band or R×F cell, sorted by
    value at risk (the "at risk" work list) or another figure."""
    flt = _filter(request)
    cursor = request.query_params.get("cursor") or None
    rows, next_cursor = service.list_scores(
        db=db, principal=principal, flt=flt, cursor=cursor, limit=50
    )
    params = {**flt.params(), "sort": flt.sort}
    context = {
        "rows": rows,
        "flt": flt,
        "next_cursor": next_cursor,
        "has_cursor": bool(cursor),
        "base_qs": urlencode(params),
        "tiers": TIERS,
        "stages": STAGES,
        "segments": sorted(service.counts_by(db=db, principal=principal, column="segment")),
    }
    return render(request, "analytics/customers.html", context, fragment="analytics/_rows.html")


@router.get("/customers/{customer_id}")
def customer_history(
    request: Request, db: SessionDep, principal: Reader, customer_id: RecordId
) -> Response:
    """One customer's scores and their history: tier, stage and segment changes, snapshots."""
    score = service.score_of(db=db, customer_id=customer_id, principal=principal)
    history = service.history_of(db=db, customer_id=customer_id, principal=principal)
    return render(
        request,
        "analytics/history.html",
        {"s": score, "history": history, "customer_id": customer_id},
    )


@router.get("/tiers")
def tiers_page(request: Request, db: SessionDep, principal: Reader) -> Response:
    """Each tier's share of customers against its share of revenue, and who dropped a tier."""
    shares = service.tier_shares(db=db, principal=principal)
    chart = bars([{**t, "label": t["tier"]} for t in shares], ["customer_share", "revenue_share"])
    drops = service.tier_drops(db=db, principal=principal)
    rules = service.rules_read(db=db, kind="tiers", principal=principal)
    return render(
        request,
        "analytics/tiers.html",
        {"shares": shares, "chart": chart, "drops": drops, "rules": rules["body"]},
    )


@router.get("/lifecycle")
def lifecycle(request: Request, db: SessionDep, principal: Reader) -> Response:
    """Customers per stage and, per month, the flows from each stage to each other."""
    counts = service.counts_by(db=db, principal=principal, column="stage")
    months = service.stage_flows(db=db, principal=principal)
    rules = service.rules_read(db=db, kind="stages", principal=principal)
    return render(
        request,
        "analytics/lifecycle.html",
        {
            "counts": counts,
            "months": months,
            "stages": STAGES,
            "sources": ("unscored", *STAGES),
            "rules": rules["body"],
        },
    )


@router.get("/clv")
def clv_page(request: Request, db: SessionDep, principal: Reader) -> Response:
    """CLV distribution, the fitted parameters with standard errors, and the calibration/
    holdout chart (predicted against actual repeat purchases by frequency)."""
    histogram = service.value_histogram(db=db, principal=principal)
    most = max((b["customers"] for b in histogram), default=0)
    groups = [{"label": f"{b['low']:.0f}", "customers": b["customers"]} for b in histogram]
    run = service.latest_run(db=db)
    clv = (run.figures.get("clv") if run else None) or {}
    calibration = clv.get("calibration") or {}
    rows = [r for r in calibration.get("rows", []) if r.get("customers")]
    top = max([r.get("actual") or 0 for r in rows] + [r.get("predicted") or 0 for r in rows] + [0])
    chart = bars([{**r, "label": r["frequency"]} for r in rows], ["actual", "predicted"], top or 1)
    context = {
        "histogram": bars(groups, ["customers"], most or 1),
        "clv": clv,
        "calibration": calibration,
        "calibration_chart": chart,
        "run": run,
    }
    return render(request, "analytics/clv.html", context)


@router.get("/churn")
def churn_page(request: Request, db: SessionDep, principal: Reader) -> Response:
    """Churn model versions and the report of the chosen one (the active one by default)."""
    models = service.list_models(db=db, principal=principal)
    wanted = request.query_params.get("version", "")
    chosen = next((m for m in models if str(m.version) == wanted), None)
    chosen = chosen or next((m for m in models if m.active), models[0] if models else None)
    return render(request, "analytics/churn.html", {"models": models, "chosen": chosen})


@router.get("/cohorts")
def cohorts_page(request: Request, db: SessionDep, principal: Reader) -> Response:
    """Retention by first-purchase month as a heat map, revenue retention beside it."""
    rows = service.cohort_matrix(db=db, principal=principal)[-24:]
    width = max((len(r["retention"]) for r in rows), default=0)
    return render(request, "analytics/cohorts.html", {"rows": rows, "width": width})


# --- rule editors ---------------------------------------------------------------------------


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A rule body as named form fields (``shares.0.share``), so any kind edits in one form."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= flatten(item, f"{prefix}{key}.")
        return out
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out |= flatten(item, f"{prefix}{index}.")
        return out
    return {prefix[:-1]: value}


def merge_form(body: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """``body`` with the submitted fields put in; segment rows without a name are dropped and
    the rest ordered by their ``position``."""
    data = json.loads(json.dumps(body))
    for name, raw in form.items():
        target, parts = data, name.split(".")
        for part in parts[:-1]:
            target = target[int(part)] if isinstance(target, list) else target.get(part)
            if target is None:
                break
        else:
            _put(target, parts[-1], raw)
    if "rules" in data and isinstance(data["rules"], list):
        kept = [r for r in data["rules"] if str(r.get("name") or "").strip()]
        kept.sort(key=lambda r: _position(r.pop("position", 0)))
        data["rules"] = kept
    result: dict[str, Any] = data
    return result


def _position(value: Any) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0


def _put(target: Any, key: str, raw: str) -> None:
    old = target[int(key)] if isinstance(target, list) else target.get(key)
    value: Any = raw.strip()
    if isinstance(old, bool):
        value = value in ("on", "true", "1")
    elif isinstance(old, int | float) and value:
        with suppress(ValueError):  # left as text: the rule check names the field
            value = float(value) if "." in value or isinstance(old, float) else int(value)
    if isinstance(target, list):
        target[int(key)] = value
    else:
        target[key] = value


@router.get("/rules")
def rules_page(request: Request, db: SessionDep, principal: Reader) -> Response:
    """Every kind of rules as it applies now, editable by managers."""
    kinds = {k: service.rules_read(db=db, kind=k, principal=principal) for k in RULE_KINDS}
    versions = {k: service.rule_versions(db=db, kind=k, limit=5) for k in RULE_KINDS}
    return render(
        request,
        "analytics/rules.html",
        {
            "kinds": kinds,
            "versions": versions,
            "titles": KIND_TITLES,
            "errors": {},
            "can_edit": principal.can(service.MANAGE),
            "flatten": flatten,
        },
    )


@router.post("/rules/{kind}")
async def save_rules(request: Request, db: SessionDep, principal: Manager, kind: Kind) -> Response:
    """Save a new version of one kind of rules from its form (applies from the next run)."""
    form = {k: str(v) for k, v in (await request.form()).items() if k != "csrf_token"}
    note = form.pop("note", "")[:200] or None
    current = service.rules_read(db=db, kind=kind, principal=principal)["body"]
    if kind == "segments":
        current.setdefault("rules", []).append(
            {"name": "", "r_min": 1, "r_max": 5, "f_min": 1, "f_max": 5, "m_min": 1, "m_max": 5}
        )
        for index, rule in enumerate(current["rules"]):
            rule["position"] = index + 1
    try:
        service.save_rules(
            db=db, kind=kind, body=merge_form(current, form), principal=principal, note=note
        )
    except InvalidInput as exc:
        db.rollback()
        kinds = {k: service.rules_read(db=db, kind=k, principal=principal) for k in RULE_KINDS}
        versions = {k: service.rule_versions(db=db, kind=k, limit=5) for k in RULE_KINDS}
        return render(
            request,
            "analytics/rules.html",
            {
                "kinds": kinds,
                "versions": versions,
                "titles": KIND_TITLES,
                "errors": {kind: exc.errors},
                "can_edit": True,
                "flatten": flatten,
            },
            status_code=422,
        )
    return hx_redirect(request, f"/analytics/rules#{kind}")
