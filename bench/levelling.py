"""Time and quality of resource levelling (CP-SAT) on a generated PSPLIB-like project.

    python bench/levelling.py --tasks 120 --resources 4 --time-limit 10

The instance (``clientops.projects.scheduling.synthetic.random_rcpsp``): FS network, durations
1–10 days, each task uses a resource with probability 1/2 (1–10 units), capacities at resource
strength 0.3 (tight). Levelling minimises the project end, then the total shift, within the time
limit. Prints one JSON line: the unlevelled (CPM) end, the levelled end, the solver's lower bound,
the gap, the status and the wall time of the whole call.
"""

from __future__ import annotations

import argparse
import json
import time

from clientops.projects.scheduling.levelling import level
from clientops.projects.scheduling.synthetic import random_rcpsp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=120)
    parser.add_argument("--resources", type=int, default=4)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--strength", type=float, default=0.3)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    instance = random_rcpsp(args.tasks, args.resources, strength=args.strength, seed=args.seed)
    started = time.perf_counter()
    result = level(
        instance.network,
        instance.demands,
        instance.capacities,
        time_limit=args.time_limit,
        workers=args.workers,
        seed=args.seed,
    )
    seconds = time.perf_counter() - started
    figures = {
        "workload": "levelling",
        "tasks": args.tasks,
        "resources": args.resources,
        "time_limit_s": args.time_limit,
        "cpm_makespan_days": instance.network.schedule().makespan,
        "makespan_days": result.makespan,
        "bound_days": result.bound,
        "gap": result.gap,
        "status": result.status,
        "shift_days": result.shift,
        "seconds": round(seconds, 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
