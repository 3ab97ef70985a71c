"""``clientops import customers|orders|activities FILE --mapping mapping.yaml`` (issue #3)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Import customers, orders and activities from CSV or XLSX files.")
