"""Churn model training and scoring with drivers on simulated customers.

    python bench/churn_train.py --size 1000000

Two cut-offs of ``--size`` customers each (``clientops.analytics.churn_synthetic``: a planted
signal in the spend and ticket trends and tenure) are built into features and labelled; the
model trains on the earlier cut-off and early-stops on the later one (``churn.train``, report
included), then scores the later cut-off with the top three drivers per customer
(``churn.score``, exact tree SHAP). Prints one JSON line: wall and CPU seconds per phase (CPU
time shows the work done when a shared machine makes wall time noisy), peak resident memory,
ROC-AUC against the Bayes-optimal AUC of the true probabilities, trees, threads.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from sklearn.metrics import roc_auc_score

from clientops.analytics import churn, churn_synthetic
from clientops.analytics import churn_features as cf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--cutoffs", type=int, default=2, help="the last one validates")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    simulated = churn_synthetic.snapshots(args.size, args.cutoffs, seed=args.seed)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    snapshots = [
        (s.cutoff, cf.build(s.summary), churn.label(s.summary, "no_purchase", 30))
        for s in simulated
    ]
    featured = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    model, report = churn.train(snapshots)
    trained, trained_cpu = time.perf_counter() - started, time.process_time() - cpu
    latest = snapshots[-1][1]
    started, cpu = time.perf_counter(), time.process_time()
    scored = churn.score(model, latest, top_k=3)
    scoring, scoring_cpu = time.perf_counter() - started, time.process_time() - cpu
    bayes = roc_auc_score(snapshots[-1][2], simulated[-1].truth)
    told = scored["drivers"].list.len()
    print(
        json.dumps(
            {
                "workload": "churn_train",
                "customers": args.size,
                "training_rows": report["training"]["rows"],
                "validation_rows": report["validation"]["rows"],
                "generate_seconds": round(generated, 2),
                "features_seconds": round(featured, 2),
                "train_seconds": round(trained, 2),
                "train_cpu_seconds": round(trained_cpu, 2),
                "score_seconds": round(scoring, 2),
                "score_cpu_seconds": round(scoring_cpu, 2),
                "drivers_per_customer": round(float(told.mean()), 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "roc_auc": report["roc_auc"],
                "bayes_auc": round(float(bayes), 6),
                "pr_auc": report["pr_auc"],
                "trees": model.best_iteration,
                "threads": churn.cores(),
            }
        )
    )


if __name__ == "__main__":
    main()
