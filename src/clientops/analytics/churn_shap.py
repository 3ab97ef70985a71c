"""Exact tree SHAP contributions of a LightGBM model, fast for a million rows.

They are the values LightGBM's ``predict(X, pred_contrib=True)`` returns (path-dependent
TreeSHAP), computed differently because that call costs rows × trees × leaves × depth² — minutes
for a million customers. Two facts make it cheap:

1. **Per leaf, a table.** TreeSHAP's value of a feature set S factorises over a leaf's path: each
   feature j on the path either follows the row (1 if the row satisfies all of j's conditions on
   the path, else 0) or is averaged out (the share of training rows that took j's branches, by
   LightGBM's leaf counts). So a leaf's Shapley values depend on the row only through d bits, d =
   distinct features on its path, and are tabulated once per model for all 2^d bit patterns.
2. **Per tree, groups of alike rows.** In one tree a row matters only through the side of each
   threshold its values fall on and whether a value is missing or zero (LightGBM may route those
   the default way). Rows alike in that get the same values; they are computed for one
   representative per group and copied to the rest.

A test compares every value with ``pred_contrib`` (NaN, zeros, values on thresholds included).
Models this method does not cover (categorical splits, paths with more than ``MAX_PATH_FEATURES``
distinct features) use LightGBM's own ``pred_contrib`` on the representatives instead.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

ZERO = float(np.float32(1e-35))
"""LightGBM's kZeroThreshold (the float 1e-35f): a value this close to 0 counts as zero."""
DIRECT_TABLE_MIN = 1 << 16
"""Rows are grouped through a lookup table when a tree has at most this many possible patterns
(or twice the rows); otherwise by sorting, which needs no big table."""
CHUNK_ROWS = 1 << 16
"""Rows per block (see ``contributions``)."""
TABLE_BATCH = 1 << 20
"""Table cells computed at once (each batch needs a few times this many floats)."""
MAX_PATH_FEATURES = 12
"""Leaf tables hold 2^d rows; deeper paths fall back to LightGBM's pred_contrib."""


@dataclass(frozen=True)
class _Split:
    """One numerical split: left when value <= threshold, missing/zero per LightGBM's rules."""

    feature: int
    threshold: float
    missing: str
    default_left: bool


@dataclass(frozen=True)
class _Leaf:
    """A leaf: the distinct features on its path (slots), the conditions and their shares."""

    value: float
    features: tuple[int, ...]
    conditions: tuple[tuple[int, bool, int], ...]  # (split index, went left, slot)
    shares: tuple[float, ...]  # per slot: product of child count / parent count
    offset: int = 0  # where its table starts in the model's flat table


@dataclass(frozen=True)
class _Tree:
    """One tree: its splits, leaves, expected value and how its rows are grouped."""

    splits: dict[int, _Split]
    leaves: tuple[_Leaf, ...]
    expected: float
    features: tuple[int, ...]
    luts: tuple[IntArray, ...]
    radices: tuple[int, ...]
    scaled: tuple[IntArray, ...]  # each lut times its place value in the mixed-radix pattern


def _count(node: dict[str, Any]) -> float:
    return float(node.get("internal_count", node.get("leaf_count", 0)))


def _walk(root: dict[str, Any]) -> tuple[dict[int, _Split], list[_Leaf]] | None:
    """Splits and leaves of one dumped tree; None when a split is categorical."""
    splits: dict[int, _Split] = {}
    leaves: list[_Leaf] = []
    stack: list[tuple[dict[str, Any], tuple[tuple[int, int, bool, float], ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if "split_index" not in node:
            leaves.append(_leaf(float(node["leaf_value"]), path))
            continue
        if node["decision_type"] != "<=":
            return None
        index, feature = int(node["split_index"]), int(node["split_feature"])
        splits[index] = _Split(
            feature, float(node["threshold"]), str(node["missing_type"]), bool(node["default_left"])
        )
        for child, left in ((node["left_child"], True), (node["right_child"], False)):
            share = _count(child) / _count(node) if _count(node) else 0.0
            stack.append((child, (*path, (index, feature, left, share))))
    return splits, leaves


def _leaf(value: float, path: tuple[tuple[int, int, bool, float], ...]) -> _Leaf:
    """A leaf from its path of (split index, feature, went left, share of rows)."""
    features = tuple(dict.fromkeys(feature for _, feature, _, _ in path))
    shares = [1.0] * len(features)
    conditions = []
    for index, feature, left, share in path:
        slot = features.index(feature)
        shares[slot] *= share
        conditions.append((index, left, slot))
    return _Leaf(value, features, tuple(conditions), tuple(shares))


def _weights(d: int) -> FloatArray:
    """Shapley weight of a coalition of k others out of d players: k!(d-k-1)!/d!."""
    return np.array(
        [math.factorial(k) * math.factorial(d - k - 1) / math.factorial(d) for k in range(d)]
    )


def _tables(leaves: list[_Leaf], d: int) -> FloatArray:
    """Shapley values of leaves with d path features: (leaves, 2^d patterns, d slots)."""
    bits = ((np.arange(2**d)[:, None] >> np.arange(d)) & 1).astype(np.float64)
    shares = np.array([leaf.shares for leaf in leaves]).reshape(len(leaves), 1, d)
    values = np.array([leaf.value for leaf in leaves]).reshape(len(leaves), 1)
    weights = _weights(d)
    out = np.empty((len(leaves), 2**d, d))
    for i in range(d):
        # coefficient k of prod over j != i of (bit_j z + share_j): coalitions of k present others
        poly = np.zeros((len(leaves), 2**d, d))
        poly[..., 0] = 1.0
        for j in range(d):
            if j != i:
                shifted = np.concatenate([np.zeros_like(poly[..., :1]), poly[..., :-1]], axis=-1)
                poly = poly * shares[..., j : j + 1] + shifted * bits[None, :, j : j + 1]
        gain = bits[None, :, i] - shares[:, :, i]
        out[..., i] = values * gain * (poly @ weights)
    return out


def _local_lut(everywhere: FloatArray, here: FloatArray) -> IntArray:
    """Map a global code (interval among all thresholds × 3 states) to this tree's code."""
    positions = np.searchsorted(everywhere, here)
    codes = np.arange(3 * (len(everywhere) + 1), dtype=np.int64)
    return np.searchsorted(positions, codes // 3, side="left").astype(np.int64) * 3 + codes % 3


class TreeExplainer:
    """Exact SHAP values of a LightGBM booster (see the module docstring)."""

    def __init__(self, booster: Any, num_threads: int = 0) -> None:
        self.booster = booster
        self.num_threads = num_threads
        self.n_features = int(booster.num_feature())
        walked = [_walk(info["tree_structure"]) for info in booster.dump_model()["tree_info"]]
        self.tabled = all(w is not None for w in walked) and all(
            len(leaf.features) <= MAX_PATH_FEATURES for w in walked if w for leaf in w[1]
        )
        self.grouped = all(w is not None for w in walked)
        parsed = [w if w is not None else ({}, []) for w in walked]
        self.thresholds = self._all_thresholds([s for s, _ in parsed])
        self.table = np.zeros(0)
        if self.tabled:
            parsed = self._tabulate(parsed)
        self.trees = [self._tree(splits, leaves) for splits, leaves in parsed]

    def _all_thresholds(self, per_tree: list[dict[int, _Split]]) -> dict[int, FloatArray]:
        found: dict[int, list[float]] = {}
        for splits in per_tree:
            for split in splits.values():
                found.setdefault(split.feature, []).append(split.threshold)
        return {f: np.unique(np.asarray(t)) for f, t in found.items()}

    def _tabulate(
        self, parsed: list[tuple[dict[int, _Split], list[_Leaf]]]
    ) -> list[tuple[dict[int, _Split], list[_Leaf]]]:
        """Compute every leaf's table into one flat array, in batches of leaves alike in d."""
        leaves = [leaf for _, tree_leaves in parsed for leaf in tree_leaves]
        parts, offsets, position = [], [0] * len(leaves), 0
        for d in sorted({len(leaf.features) for leaf in leaves}):
            alike = [i for i, leaf in enumerate(leaves) if len(leaf.features) == d]
            size = 2**d * d
            step = max(1, TABLE_BATCH // max(size, 1))  # bounds the working memory
            for start in range(0, len(alike), step):
                batch = alike[start : start + step]
                table = _tables([leaves[i] for i in batch], d) if d else np.zeros(0)
                for row, i in enumerate(batch):
                    offsets[i] = position + row * size
                parts.append(table.reshape(-1))
                position += len(batch) * size
        self.table = np.concatenate(parts) if parts else np.zeros(0)
        placed = iter(offsets)
        return [
            (splits, [replace(leaf, offset=next(placed)) for leaf in tree_leaves])
            for splits, tree_leaves in parsed
        ]

    def _tree(self, splits: dict[int, _Split], leaves: list[_Leaf]) -> _Tree:
        total = sum(math.prod(leaf.shares) for leaf in leaves) or 1.0
        expected = sum(leaf.value * math.prod(leaf.shares) for leaf in leaves) / total
        found: dict[int, set[float]] = {}
        for split in splits.values():
            found.setdefault(split.feature, set()).add(split.threshold)
        features = tuple(sorted(found))
        here = [np.array(sorted(found[f])) for f in features]
        luts = tuple(_local_lut(self.thresholds[f], h) for f, h in zip(features, here, strict=True))
        radices = tuple(3 * (len(h) + 1) for h in here)
        places = [math.prod(radices[:i]) for i in range(len(radices))]
        fits = math.prod(radices) < 2**62
        scaled = tuple(lut * p for lut, p in zip(luts, places, strict=True)) if fits else ()
        return _Tree(splits, tuple(leaves), expected, features, luts, radices, scaled)

    def contributions(self, x: FloatArray) -> FloatArray:
        """SHAP values, shape (features + 1, rows); the last row is the expected value."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        # LightGBM reads a dense row as its non-zero entries: |value| <= ZERO becomes exactly 0
        x = np.where(np.abs(x) <= ZERO, 0.0, x)
        if not self.grouped:
            direct = self.booster.predict(x, pred_contrib=True, num_threads=self.num_threads)
            return np.ascontiguousarray(np.asarray(direct, dtype=np.float64).T)
        out = np.zeros((self.n_features + 1, len(x)))
        out[self.n_features] = sum(tree.expected for tree in self.trees)
        starts = range(0, len(x), CHUNK_ROWS)
        # Blocks of rows keep the working set in cache; NumPy releases the GIL in the heavy
        # loops, so blocks run side by side. LightGBM's own fallback runs one block at a time.
        workers = max(1, min(self.num_threads or 1, len(starts))) if self.tabled else 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = pool.map(lambda s: self._block(x[s : s + CHUNK_ROWS], out[:, s:]), starts)
            list(done)  # re-raises the first error of a block
        return out

    def _block(self, x: FloatArray, out: FloatArray) -> None:
        """Add every tree's contributions for the rows ``x`` to the first columns of ``out``."""
        codes = {f: self._codes(x[:, f], f) for f in self.thresholds}
        for index, tree in enumerate(self.trees):
            representatives, inverse = _group(tree, codes, len(x))
            values = self._representatives(x[representatives], index, tree)
            for feature in tree.features:
                out[feature, : len(x)] += values[feature][inverse]

    def _codes(self, values: FloatArray, feature: int) -> npt.NDArray[np.int32]:
        """Per row: how many of the feature's thresholds lie below it, × 3, + missing/zero state."""
        interval = np.searchsorted(self.thresholds[feature], values, side="left")
        state = np.where(np.isnan(values), 1, np.where(np.abs(values) <= ZERO, 2, 0))
        return (interval * 3 + state).astype(np.int32)

    def _representatives(self, x: FloatArray, index: int, tree: _Tree) -> FloatArray:
        """One tree's SHAP values (features × rows) for a few rows."""
        if not self.tabled:
            direct = self.booster.predict(
                x,
                pred_contrib=True,
                start_iteration=index,
                num_iteration=1,
                num_threads=self.num_threads,
            )
            return np.asarray(direct, dtype=np.float64).T[:-1]
        out = np.zeros((self.n_features, len(x)))
        left = {i: _goes_left(x[:, s.feature], s) for i, s in tree.splits.items()}
        for leaf in tree.leaves:
            d = len(leaf.features)
            if d == 0:
                continue
            pattern = np.zeros(len(x), dtype=np.int64)
            follows = np.ones((d, len(x)), dtype=bool)
            for split, went_left, slot in leaf.conditions:
                follows[slot] &= left[split] == went_left
            for slot in range(d):
                pattern |= follows[slot].astype(np.int64) << slot
            start = leaf.offset + pattern * d
            for slot, feature in enumerate(leaf.features):
                out[feature] += self.table[start + slot]
        return out


def _goes_left(values: FloatArray, split: _Split) -> BoolArray:
    """LightGBM's numerical decision, for many rows."""
    missing = np.isnan(values)
    if split.missing != "NaN":
        values = np.where(missing, 0.0, values)
    if split.missing == "Zero":
        special = np.abs(values) <= ZERO
    elif split.missing == "NaN":
        special = missing
    else:
        return np.asarray(values <= split.threshold)
    return np.where(special, split.default_left, values <= split.threshold)


def _group(
    tree: _Tree, codes: dict[int, npt.NDArray[np.int32]], n: int
) -> tuple[IntArray, IntArray]:
    """One representative row per distinct pattern, and each row's group number."""
    possible = math.prod(tree.radices)
    if possible >= 2**62:
        stacked = np.stack([lut[codes[f]] for f, lut in zip(tree.features, tree.luts, strict=True)])
        _, first, inverse = np.unique(stacked, axis=1, return_index=True, return_inverse=True)
        return first.astype(np.int64), inverse.reshape(-1).astype(np.int64)
    pattern = np.zeros(n, dtype=np.int64)
    for feature, scaled in zip(tree.features, tree.scaled, strict=True):
        pattern += scaled[codes[feature]]
    if possible <= max(DIRECT_TABLE_MIN, 2 * n):
        return _bucket(pattern, pattern, possible)
    # Too many possible patterns for a table: hash them into about 2n buckets, then part the
    # few rows whose bucket's representative has another pattern by sorting just those.
    bits = max(16, int(2 * n - 1).bit_length())
    hashed = (pattern.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits)
    representatives, inverse = _bucket(hashed.astype(np.int64), pattern, 1 << bits)
    clash = np.flatnonzero(pattern[representatives[inverse]] != pattern)
    if len(clash):
        _, first, again = np.unique(pattern[clash], return_index=True, return_inverse=True)
        inverse[clash] = len(representatives) + again
        representatives = np.concatenate([representatives, clash[first]])
    return representatives, inverse


def _bucket(bucket: IntArray, pattern: IntArray, size: int) -> tuple[IntArray, IntArray]:
    """Rows grouped by ``bucket`` (< ``size``): one representative each, and each row's group."""
    seen = np.full(size, -1, dtype=np.int64)
    seen[bucket] = np.arange(len(pattern), dtype=np.int64)
    occupied = np.flatnonzero(seen >= 0)
    slot = np.zeros(size, dtype=np.int64)
    slot[occupied] = np.arange(len(occupied), dtype=np.int64)
    return seen[occupied], slot[bucket]
