"""Pieces the benchmark scripts share (imported as ``common``: ``python bench/NAME.py``)."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx


def serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start ``clientops serve`` with ``env`` on ``port``; return once it answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "clientops.cli", "serve", "--port", str(port)], env=env
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")
