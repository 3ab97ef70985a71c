"""Churn prediction: labels, LightGBM training on a time-based split, the model report, scoring
with per-customer drivers from exact tree SHAP contributions.

The pipeline hands over one window summary per cut-off date (``churn_features.REQUIRED_COLUMNS``
plus, for past cut-offs, the future columns of ``LABEL_COLUMNS``). Training takes the snapshots
of several past cut-offs: the model learns on all but the latest and is validated, and stopped
early, on the latest — the way it will be used, predicting a period it has not seen. The latest
training cut-off must lie a full horizon before the validation cut-off so no training label
looks into the validation period. The report is computed on that held-out snapshot.

Scoring returns each customer's risk and up to ``top_k`` drivers: the facts that push this
customer's risk up the most, by their exact SHAP contributions (log-odds), with the sentence
key and the customer's own figures. Words are rendered later, in the reader's language.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

# OpenMP threads that wait by spinning steal the cores from everything else on a shared host, and
# when the host is busy LightGBM itself slows down ten-fold; sleep instead. Read when LightGBM's
# OpenMP runtime loads, so set before the import; an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from sklearn.metrics import average_precision_score, roc_auc_score

from clientops.analytics import churn_features as cf
from clientops.analytics.churn_features import ChurnDataError
from clientops.analytics.churn_shap import TreeExplainer

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

FORMAT = "clientops.churn-model/1"
MIN_TRAIN_ROWS = 1000
MIN_VALIDATION_ROWS = 200
MIN_PER_CLASS = 20
"""Fewer churners (or stayers) than this in either part gives no usable model or report."""
MIN_CONTRIBUTION = 0.01
"""A driver must add at least this much to the log-odds to be told."""
IMPORTANCE_SAMPLE = 100_000
"""Mean |SHAP| in the report is taken over at most this many validation rows."""
NUM_BOOST_ROUND = 1000
EARLY_STOPPING_ROUNDS = 30

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "metric": "binary_logloss",  # what early stopping watches; AUC (a sort a round) is reported
    "learning_rate": 0.1,
    # Shallow trees: churn signals are main effects and low-order interactions, and exact SHAP
    # for a million customers stays cheap (few distinct row patterns per tree, see churn_shap).
    "num_leaves": 15,
    "max_depth": 5,
    "min_data_in_leaf": 100,
    "lambda_l2": 1.0,
    "max_bin": 255,
    "seed": 20261123,
    "deterministic": True,
    "force_col_wise": True,
    "verbosity": -1,
}
"""LightGBM settings; ``num_threads`` is added (the cores this process may use)."""


class ChurnDefinition(StrEnum):
    """What counts as churn within the horizon."""

    NO_PURCHASE = "no_purchase"
    NO_ACTIVITY = "no_activity"
    CONTRACT_NOT_RENEWED = "contract_not_renewed"


LABEL_NEEDS: dict[ChurnDefinition, tuple[str, ...]] = {
    ChurnDefinition.NO_PURCHASE: ("next_order_days",),
    ChurnDefinition.NO_ACTIVITY: ("next_order_days", "next_event_days"),
    ChurnDefinition.CONTRACT_NOT_RENEWED: ("contract_end_days", "contract_renewed"),
}


def _definition(value: str | ChurnDefinition) -> ChurnDefinition:
    try:
        return ChurnDefinition(value)
    except ValueError as error:
        raise ChurnDataError({"definition": f"unknown:{value}"}) from error


def label(
    summary: pd.DataFrame | pa.Table, definition: str | ChurnDefinition, horizon_days: int
) -> pd.Series:
    """1 where the customer churned within ``horizon_days`` of the cut-off, else 0."""
    frame = summary.to_pandas() if isinstance(summary, pa.Table) else summary
    kind = _definition(definition)
    if horizon_days < 1:
        raise ChurnDataError({"horizon_days": "not_positive"})
    cf.check_columns(frame, list(LABEL_NEEDS[kind]))
    c = cf.columns(frame, LABEL_NEEDS[kind])
    with np.errstate(invalid="ignore"):  # NaN (nothing happened) compares false
        if kind is ChurnDefinition.NO_PURCHASE:
            churned = ~(c["next_order_days"] <= horizon_days)
        elif kind is ChurnDefinition.NO_ACTIVITY:
            seen = np.fmin(c["next_order_days"], c["next_event_days"])
            churned = ~(seen <= horizon_days)
        else:
            churned = (c["contract_end_days"] <= horizon_days) & ~(c["contract_renewed"] == 1)
    return pd.Series(churned.astype(np.int8), index=frame.index, name="churned")


def cores() -> int:
    """The CPU cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


@dataclass(frozen=True)
class ChurnModel:
    """A trained churn model and what it was trained for, storable as text."""

    booster_text: str
    feature_names: tuple[str, ...]
    params: dict[str, Any]
    definition: str
    horizon_days: int
    cutoffs: tuple[str, ...]
    best_iteration: int
    trained_at: str
    lightgbm_version: str
    version: str = field(default="")

    @cached_property
    def booster(self) -> Any:
        """The LightGBM booster, rebuilt from its text once."""
        return lgb.Booster(model_str=self.booster_text)

    @cached_property
    def explainer(self) -> TreeExplainer:
        """Exact SHAP contributions for this model."""
        return TreeExplainer(self.booster, num_threads=cores())

    def to_text(self) -> str:
        """The model as one JSON document (the booster's own text format inside)."""
        return json.dumps({"format": FORMAT, **asdict(self)}, ensure_ascii=False)

    @classmethod
    def from_text(cls, text: str) -> ChurnModel:
        """A model back from ``to_text``."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ChurnDataError({"model": "not_json"}) from error
        if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
            raise ChurnDataError({"model": "unknown_format"})
        data["feature_names"] = tuple(data.get("feature_names", ()))
        data["cutoffs"] = tuple(data.get("cutoffs", ()))
        try:
            return cls(**data)
        except TypeError as error:
            raise ChurnDataError({"model": "fields"}) from error


Snapshot = tuple[date, pd.DataFrame, "pd.Series | npt.ArrayLike"]


def _labels(values: Any, rows: int, part: str) -> FloatArray:
    """Labels as 0/1 floats, refusing missing or other values."""
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(y) != rows:
        raise ChurnDataError({"labels": f"length:{part}:{len(y)}!={rows}"})
    if np.isnan(y).any() or not np.isin(y, (0.0, 1.0)).all():
        raise ChurnDataError({"labels": f"not_binary:{part}"})
    return y


def _matrix(frame: pd.DataFrame, names: Sequence[str]) -> FloatArray:
    """The model inputs of a feature table, in the model's order."""
    cf.check_columns(frame, list(names))
    return np.ascontiguousarray(frame[list(names)].to_numpy(dtype=np.float64, na_value=np.nan))


def _ordered(snapshots: Sequence[Snapshot], horizon_days: int) -> list[Snapshot]:
    """Snapshots by cut-off, checked for a time-based split."""
    ordered = sorted(snapshots, key=lambda s: s[0])
    cutoffs = [s[0] for s in ordered]
    if len(ordered) < 2:
        raise ChurnDataError({"snapshots": "need_two_cutoffs"})
    if len(set(cutoffs)) != len(cutoffs):
        raise ChurnDataError({"snapshots": "duplicate_cutoff"})
    if (cutoffs[-1] - cutoffs[-2]).days < horizon_days:
        raise ChurnDataError({"snapshots": f"validation_within_horizon:{horizon_days}"})
    return ordered


def _check_sizes(y: FloatArray, part: str, minimum: int) -> None:
    if len(y) < minimum:
        raise ChurnDataError({"rows": f"too_few:{part}:{len(y)}<{minimum}"})
    churners = int(y.sum())
    if min(churners, len(y) - churners) == 0:
        raise ChurnDataError({"labels": f"one_class:{part}"})
    if min(churners, len(y) - churners) < MIN_PER_CLASS:
        raise ChurnDataError({"labels": f"too_few_per_class:{part}<{MIN_PER_CLASS}"})


def _split(
    snapshots: Sequence[Snapshot], horizon_days: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, list[date]]:
    """Training rows (all but the latest cut-off) and validation rows (the latest)."""
    ordered = _ordered(snapshots, horizon_days)
    names = cf.FEATURE_NAMES
    x_parts = [_matrix(frame, names) for _, frame, _ in ordered[:-1]]
    y_parts = [_labels(y, len(f), "training") for _, f, y in ordered[:-1]]
    x_train, y_train = np.concatenate(x_parts), np.concatenate(y_parts)
    _, valid_frame, valid_y = ordered[-1]
    x_valid = _matrix(valid_frame, names)
    y_valid = _labels(valid_y, len(valid_frame), "validation")
    _check_sizes(y_train, "training", MIN_TRAIN_ROWS)
    _check_sizes(y_valid, "validation", MIN_VALIDATION_ROWS)
    return x_train, y_train, x_valid, y_valid, [s[0] for s in ordered]


def _fit(params: dict[str, Any], data: tuple[FloatArray, ...]) -> Any:
    """A booster early-stopped on the validation log-loss."""
    x_train, y_train, x_valid, y_valid = data
    names = list(cf.FEATURE_NAMES)
    train_set = lgb.Dataset(x_train, y_train, feature_name=names, free_raw_data=True)
    valid_set = lgb.Dataset(x_valid, y_valid, reference=train_set)
    stop = lgb.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=True, verbose=False)
    return lgb.train(
        params,
        train_set,
        num_boost_round=NUM_BOOST_ROUND,
        valid_sets=[valid_set],
        valid_names=["validation"],
        callbacks=[stop],
    )


def train(
    snapshots: Sequence[Snapshot],
    params: Mapping[str, Any] | None = None,
    *,
    definition: str | ChurnDefinition = ChurnDefinition.NO_PURCHASE,
    horizon_days: int = 30,
) -> tuple[ChurnModel, dict[str, Any]]:
    """Train on all cut-offs but the latest, validate on the latest; the model and its report."""
    kind = _definition(definition)
    x_train, y_train, x_valid, y_valid, cutoffs = _split(snapshots, horizon_days)
    settings = {**DEFAULT_PARAMS, "num_threads": cores(), **(params or {})}
    booster = _fit(settings, (x_train, y_train, x_valid, y_valid))
    best = int(booster.best_iteration or booster.current_iteration())
    text = booster.model_to_string(num_iteration=best)
    now = datetime.now(UTC).replace(microsecond=0)
    model = ChurnModel(
        booster_text=text,
        feature_names=cf.FEATURE_NAMES,
        params=settings,
        definition=kind.value,
        horizon_days=horizon_days,
        cutoffs=tuple(d.isoformat() for d in cutoffs),
        best_iteration=best,
        trained_at=now.isoformat(),
        lightgbm_version=lgb.__version__,
        version=f"{now:%Y%m%dT%H%M%SZ}-{hashlib.sha256(text.encode()).hexdigest()[:8]}",
    )
    return model, report(model, x_valid, y_valid, training_labels=y_train)


def _num(value: float) -> float | None:
    """A JSON-safe rounded float (None for NaN)."""
    return None if not np.isfinite(value) else round(float(value), 6)


def calibration(risk: FloatArray, y: FloatArray, bins: int = 10) -> list[dict[str, Any]]:
    """Per equal-width bin of predicted risk: rows, mean predicted, observed churn rate."""
    index = np.minimum((risk * bins).astype(np.int64), bins - 1)
    rows = np.bincount(index, minlength=bins)
    predicted = np.bincount(index, weights=risk, minlength=bins)
    observed = np.bincount(index, weights=y, minlength=bins)
    return [
        {
            "bin": b + 1,
            "lower": b / bins,
            "upper": (b + 1) / bins,
            "rows": int(rows[b]),
            "mean_predicted": _num(predicted[b] / rows[b]) if rows[b] else None,
            "observed": _num(observed[b] / rows[b]) if rows[b] else None,
        }
        for b in range(bins)
    ]


def deciles(risk: FloatArray, y: FloatArray) -> list[dict[str, Any]]:
    """Customers in ten equal groups by falling risk: churn rate, lift and capture of each."""
    order = np.argsort(-risk, kind="stable")
    total, base = float(y.sum()), float(y.mean())
    found = 0.0
    out = []
    for number, part in enumerate(np.array_split(order, 10), start=1):
        churners = float(y[part].sum())
        found += churners
        rate = churners / len(part) if len(part) else 0.0
        out.append(
            {
                "decile": number,
                "rows": len(part),
                "churners": int(churners),
                "churn_rate": _num(rate),
                "lift": _num(rate / base) if base else None,
                "capture": _num(churners / total) if total else None,
                "cumulative_capture": _num(found / total) if total else None,
            }
        )
    return out


def importance(model: ChurnModel, x: FloatArray) -> dict[str, list[dict[str, Any]]]:
    """Mean |SHAP| per feature and per driver over (a sample of) ``x``, largest first."""
    if len(x) > IMPORTANCE_SAMPLE:
        pick = np.random.default_rng(0).choice(len(x), IMPORTANCE_SAMPLE, replace=False)
        x = x[np.sort(pick)]
    contributions = model.explainer.contributions(x)[:-1]
    per_feature = np.abs(contributions).mean(axis=1)
    per_driver = np.abs(_by_driver(model, contributions)).mean(axis=1)
    features = [
        {"feature": name, "mean_abs_shap": _num(value)}
        for name, value in zip(model.feature_names, per_feature, strict=True)
    ]
    drivers = [
        {"driver": d.name, "mean_abs_shap": _num(value)}
        for d, value in zip(cf.DRIVERS, per_driver, strict=True)
    ]
    return {
        "features": sorted(features, key=lambda f: -(f["mean_abs_shap"] or 0.0)),
        "drivers": sorted(drivers, key=lambda d: -(d["mean_abs_shap"] or 0.0)),
    }


def report(
    model: ChurnModel, x_valid: FloatArray, y_valid: FloatArray, *, training_labels: FloatArray
) -> dict[str, Any]:
    """The model report on the held-out validation cut-off, as a JSON-able dict."""
    risk = np.asarray(model.booster.predict(x_valid, num_threads=cores()), dtype=np.float64)
    shares = importance(model, x_valid)
    return {
        "model_version": model.version,
        "definition": model.definition,
        "horizon_days": model.horizon_days,
        "training": {
            "cutoffs": list(model.cutoffs[:-1]),
            "rows": len(training_labels),
            "churners": int(training_labels.sum()),
        },
        "validation": {
            "cutoff": model.cutoffs[-1],
            "rows": len(y_valid),
            "churners": int(y_valid.sum()),
        },
        "best_iteration": model.best_iteration,
        "base_rate": _num(float(y_valid.mean())),
        "roc_auc": _num(float(roc_auc_score(y_valid, risk))),
        "pr_auc": _num(float(average_precision_score(y_valid, risk))),
        "calibration": calibration(risk, y_valid),
        "deciles": deciles(risk, y_valid),
        "importance": shares["features"],
        "driver_importance": shares["drivers"],
    }


def _driver_of() -> dict[str, int]:
    return {f: i for i, d in enumerate(cf.DRIVERS) for f in d.features}


def _by_driver(model: ChurnModel, contributions: FloatArray) -> FloatArray:
    """Feature contributions (features × rows) summed per driver (drivers × rows)."""
    owner = _driver_of()
    out = np.zeros((len(cf.DRIVERS), contributions.shape[1]))
    for index, name in enumerate(model.feature_names):
        out[owner[name]] += contributions[index]
    return out


class _Rows(Mapping[str, FloatArray]):
    """Columns restricted to some rows, sliced when a sentence asks for them."""

    def __init__(self, columns: Mapping[str, FloatArray], rows: IntArray) -> None:
        self._columns, self._rows = columns, rows

    def __getitem__(self, name: str) -> FloatArray:
        return self._columns[name][self._rows]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


def _top(pushes: FloatArray, top_k: int) -> tuple[IntArray, FloatArray]:
    """Per row the ``top_k`` drivers by contribution (rows × k), largest first."""
    pushes = pushes.copy()
    columns = np.arange(pushes.shape[1])
    best = np.empty((pushes.shape[1], top_k), dtype=np.int64)
    value = np.empty((pushes.shape[1], top_k))
    for rank in range(top_k):
        best[:, rank] = pushes.argmax(axis=0)
        value[:, rank] = pushes[best[:, rank], columns]
        pushes[best[:, rank], columns] = -np.inf
    return best, value


@dataclass
class _Entries:
    """The drivers told, one entry per (customer, rank), in customer order."""

    rows: IntArray
    driver: IntArray
    contribution: FloatArray
    per_row: IntArray


def _entries(by_driver: FloatArray, columns: Mapping[str, FloatArray], top_k: int) -> _Entries:
    """Pick, per customer, the drivers that push risk up most and can be put in words."""
    pushes = by_driver.copy()
    for index, driver in enumerate(cf.DRIVERS):
        key, _ = driver.phrase(columns)
        pushes[index][key < 0] = -np.inf
    pushes[pushes < MIN_CONTRIBUTION] = -np.inf
    best, value = _top(pushes, min(top_k, len(cf.DRIVERS)))
    told = np.isfinite(value)
    rows = np.broadcast_to(np.arange(len(told))[:, None], told.shape)[told]
    return _Entries(rows, best[told], value[told], told.sum(axis=1))


def _param_array(values: FloatArray, kind: str) -> pa.Array:
    missing = np.isnan(values)
    if kind in ("int", "tier"):
        return pa.array(np.where(missing, 0, np.rint(values)).astype(np.int64), mask=missing)
    return pa.array(np.round(values, 2), mask=missing)


def _drivers_array(entries: _Entries, columns: Mapping[str, FloatArray]) -> pa.ListArray:
    """The entries as an Arrow list of {feature, contribution, text_key, params} per customer."""
    size = len(entries.rows)
    text = np.zeros(size, dtype=np.int32)
    params = {name: np.full(size, np.nan) for name in cf.PARAMS}
    for index, driver in enumerate(cf.DRIVERS):
        at = np.flatnonzero(entries.driver == index)
        key, values = driver.phrase(_Rows(columns, entries.rows[at]))
        lookup = np.asarray([cf.TEXT_KEYS.index(t) for t in driver.texts], dtype=np.int32)
        text[at] = lookup[key]
        for name, value in values.items():
            params[name][at] = value
    names = pa.array([d.name for d in cf.DRIVERS])
    struct = pa.StructArray.from_arrays(
        [
            pa.DictionaryArray.from_arrays(entries.driver.astype(np.int32), names).cast(
                pa.string()
            ),
            pa.array(np.round(entries.contribution, 6)),
            pa.DictionaryArray.from_arrays(text, pa.array(cf.TEXT_KEYS)).cast(pa.string()),
            pa.StructArray.from_arrays(
                [_param_array(params[n], k) for n, k in cf.PARAMS.items()], list(cf.PARAMS)
            ),
        ],
        ["feature", "contribution", "text_key", "params"],
    )
    offsets = np.concatenate([[0], np.cumsum(entries.per_row)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), struct)


def score(model: ChurnModel, features: pd.DataFrame | pa.Table, top_k: int = 3) -> pd.DataFrame:
    """Risk of churn within the horizon and the top drivers pushing it up, per customer."""
    frame = features.to_pandas() if isinstance(features, pa.Table) else features
    cf.check_columns(frame, cf.REQUIRED_COLUMNS)
    x = _matrix(frame, model.feature_names)
    contributions = model.explainer.contributions(x)
    risk = 1.0 / (1.0 + np.exp(-contributions.sum(axis=0)))
    columns = cf.columns(frame, [c.name for c in cf.REQUIRED_COLUMNS[1:]])
    entries = _entries(_by_driver(model, contributions[:-1]), columns, top_k)
    drivers = _drivers_array(entries, columns)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(dtype=np.int64),
            "risk": risk,
            "drivers": pd.arrays.ArrowExtensionArray(drivers),
        }
    )


def describe(driver: Mapping[str, Any], locale: str = "en") -> str:
    """One driver as a sentence a manager understands, in ``locale``."""
    return cf.render(str(driver["text_key"]), driver.get("params") or {}, locale)
