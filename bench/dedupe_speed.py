"""End-to-end time and peak memory of ``clientops dedupe`` on a synthetic CSV file.

    python bench/dedupe_speed.py --size 1000000

The file (synthetic people with 20% duplicates, see ``clientops.identity.synthetic``) is written
once to /tmp and reused. The command runs in a child process; its wall time and peak resident
memory (``getrusage`` of the children) are printed as one JSON line with the command's summary.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from clientops.identity import synthetic

ROLES = ("name", "phone", "email", "address", "postcode", "city", "birth_date", "id_number")


def cached_csv(size: int, dup_rate: float, seed: int) -> Path:
    """The synthetic file for these parameters, generated on first use."""
    path = Path(f"/tmp/clientops-dedupe-{size}-{dup_rate}-{seed}.csv")
    if not path.exists():
        partial = path.with_suffix(".partial")
        synthetic.write_csv(partial, size, dup_rate=dup_rate, seed=seed)
        partial.rename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--dup-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    started = time.perf_counter()
    path = cached_csv(args.size, args.dup_rate, args.seed)
    prepared = time.perf_counter() - started
    out = path.with_suffix(".clusters.csv")
    command = [sys.executable, "-m", "clientops.cli", "dedupe", str(path), "--id", "id"]
    command += [arg for role in ROLES for arg in ("--field", f"{role}:{role}")]
    command += ["--out", str(out), "--threshold", str(args.threshold)]
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        json.dumps(
            {
                "workload": "dedupe_speed",
                "records": args.size,
                "seconds": round(seconds, 2),
                "peak_rss_mb": round(peak_kb / 1024),
                "file_mb": round(path.stat().st_size / 2**20, 1),
                "generate_seconds": round(prepared, 2),
                "summary": summary,
            }
        )
    )


if __name__ == "__main__":
    main()
