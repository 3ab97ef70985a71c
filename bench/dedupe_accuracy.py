"""Pairwise precision and recall of identity resolution on synthetic data with known truth.

    python bench/dedupe_accuracy.py --size 100000 --dup-rate 0.2

Runs the engine (deterministic rules + Splink model, clusters at --threshold) and, on the same
records, a naive exact-match dedupe: two records are one person when they have the same
normalised name (cleaned, case-folded) and the same E.164 phone, or the same normalised email.
Prints one JSON line: precision/recall of both (pairs of records put in one cluster), and the
engine's precision/recall on its direct pairs before clustering.
"""

from __future__ import annotations

import argparse
import json
import time

import pyarrow as pa

from clientops.core.normalise import name_key
from clientops.identity import engine, synthetic


def naive_clusters(records: pa.Table) -> dict[str, str]:
    """Exact-match dedupe: same name key and E.164 phone, or same normalised email."""
    std = engine.standardise(records.select(["id", "phone", "email"]))
    phones = dict(
        zip(std.column("unique_id").to_pylist(), std.column("ph").to_pylist(), strict=True)
    )
    emails = dict(
        zip(std.column("unique_id").to_pylist(), std.column("em").to_pylist(), strict=True)
    )
    ids = records.column("id").to_pylist()
    names = [name_key(n or "") for n in records.column("name").to_pylist()]
    first: dict[tuple[str, str], str] = {}
    edges: list[tuple[str, str]] = []
    for record, name in zip(ids, names, strict=True):
        keys = []
        if name and phones[record]:
            keys.append(("name+phone", f"{name}|{phones[record]}"))
        if emails[record]:
            keys.append(("email", emails[record]))
        for key in keys:
            if key in first:
                edges.append((first[key], record))
            else:
                first[key] = record
    return engine.cluster_edges(ids, edges)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--dup-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    started = time.perf_counter()
    data = synthetic.table(args.size, dup_rate=args.dup_rate, seed=args.seed)
    generated = time.perf_counter() - started
    truth = dict(
        zip(data.column("id").to_pylist(), data.column("entity_id").to_pylist(), strict=True)
    )
    records = data.drop_columns(["entity_id"])
    started = time.perf_counter()
    result = engine.match(records, min_probability=args.threshold, seed=args.seed, explain=False)
    seconds = time.perf_counter() - started
    left, right = result.pairs.column("left").to_pylist(), result.pairs.column("right").to_pylist()
    found = engine.cluster_edges(truth.keys(), zip(left, right, strict=True))
    scores = synthetic.score_clusters(truth, found)
    direct_true = sum(truth[a] == truth[b] for a, b in zip(left, right, strict=True))
    naive = synthetic.score_clusters(truth, naive_clusters(records))
    rules = result.pairs.column("rule").to_pylist()
    print(
        json.dumps(
            {
                "workload": "dedupe_accuracy",
                "records": args.size,
                "dup_rate": args.dup_rate,
                "threshold": args.threshold,
                "true_pairs": scores.true_pairs,
                "engine_precision": round(scores.precision, 4),
                "engine_recall": round(scores.recall, 4),
                "engine_found_pairs": scores.found_pairs,
                "engine_direct_pairs": len(left),
                "engine_direct_precision": round(direct_true / len(left), 4) if left else 1.0,
                "engine_pairs_by_rule": {r: rules.count(r) for r in sorted(set(rules))},
                "naive_precision": round(naive.precision, 4),
                "naive_recall": round(naive.recall, 4),
                "naive_found_pairs": naive.found_pairs,
                "pairs_compared": result.pairs_compared,
                "trained": result.trained,
                "engine_seconds": round(seconds, 2),
                "generate_seconds": round(generated, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
