"""``clientops schedule FILE [--level] [--time-limit S] [--json]``: the standalone scheduler.

Needs no server or database. Reads MS Project XML (MSPDI), the CSV task format or a PSPLIB ``.sm``
file, runs the critical path method (and with ``--level`` resource levelling with CP-SAT) and
prints every figure in working days from the project start (day 0; a finish is the day after the
last working day, so ``finish = start + duration``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from clientops.core.i18n import gettext as _

if TYPE_CHECKING:
    from clientops.projects.scheduling.cpm import Schedule
    from clientops.projects.scheduling.formats import ProjectData


def schedule(
    file: Annotated[
        Path,
        typer.Argument(
            help="Plan file: MS Project XML (.xml), CSV task format (.csv) or PSPLIB (.sm)."
        ),
    ],
    level: Annotated[
        bool,
        typer.Option(
            "--level", help="Level resources with CP-SAT (minimise the end, then the moves)."
        ),
    ] = False,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, help="Seconds the levelling may take.")
    ] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Schedule a plan file with the critical path method; needs no server or database."""
    from clientops.projects.scheduling.cpm import ScheduleError

    try:
        data, payload, plan = _run(file, level=level, time_limit=time_limit)
    except ScheduleError as exc:
        label = _("error")
        Console(stderr=True).print(f"[red]{label}:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False))
    else:
        _print_table(data, payload, plan)


def _run(
    file: Path, *, level: bool, time_limit: float
) -> tuple[ProjectData, dict[str, Any], Schedule]:
    """Read, schedule (and level); the JSON payload with exactly the promised keys."""
    from clientops.projects.scheduling import formats, levelling

    data = formats.read(file)
    network = data.network()
    if not level:
        plan = network.schedule()
        return data, {"makespan_days": plan.makespan, "tasks": plan.records()}, plan
    _names, need, capacities = data.demand_matrix()
    result = levelling.level(network, need, capacities, time_limit=time_limit)
    plan = levelling.levelled_schedule(network, result)
    payload = {
        "makespan_days": result.makespan,
        "tasks": plan.records(),
        "bound": result.bound,
        "gap": result.gap,
        "status": result.status,
    }
    return data, payload, plan


def _print_table(data: ProjectData, payload: dict[str, Any], plan: Schedule) -> None:
    """A readable table: one row per task, critical ones in red."""
    names = {t.uid: t.name for t in data.tasks}
    table = Table(title=data.name or None)
    for header in (_("UID"), _("Name"), _("Early start"), _("Early finish"), _("Late start"),
                   _("Late finish"), _("Total float"), _("Free float"), _("Critical")):  # fmt: skip
        table.add_column(header, justify="left" if header == _("Name") else "right")
    for row, free in zip(payload["tasks"], plan.free_float.tolist(), strict=True):
        style = "red" if row["critical"] else None
        table.add_row(
            str(row["uid"]), names.get(row["uid"], ""), str(row["early_start"]),
            str(row["early_finish"]), str(row["late_start"]), str(row["late_finish"]),
            str(row["total_float"]), str(free), _("yes") if row["critical"] else "", style=style,
        )  # fmt: skip
    out = Console()
    out.print(table)
    out.print(_("Project length: %(n)s working days.") % {"n": payload["makespan_days"]})
    if "bound" in payload:
        status = {"optimal": _("optimal"), "feasible": _("feasible")}[payload["status"]]
        out.print(
            _("Levelled (%(status)s): lower bound %(bound)s days, gap %(gap).1f%%.")
            % {"status": status, "bound": payload["bound"], "gap": payload["gap"] * 100}
        )
