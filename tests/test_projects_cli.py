"""``clientops project list|show|schedule|level|report|import|export`` on the test database,
and the MS Project XML / CSV round trip."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from clientops.cli import app
from clientops.core.context import SYSTEM, bind
from clientops.db import transaction
from clientops.projects import plans, resources
from clientops.projects.models import Project
from clientops.projects.schemas import AssignmentIn, ResourceCreate
from tests import factories


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["project", *args])
    return result.exit_code, result.stdout, result.stderr


def test_list_show_schedule_and_report_pdf(world: factories.World, tmp_path: Path) -> None:
    pm = world.principal("project_manager")
    project_id = factories.make_project(pm, world.customers["East"][1])
    code, out, _err = _run("list")
    assert code == 0 and json.loads(out.splitlines()[0])["id"] == project_id
    code, out, _err = _run("show", str(project_id), "--user", "west_pm")
    assert code == 2  # a West user does not see an East customer's project
    code, out, _err = _run("schedule", str(project_id))
    result = json.loads(out)
    assert code == 0 and result["makespan_days"] == 44 and result["critical"]
    pdf = tmp_path / "status.pdf"
    code, out, _err = _run("report", str(project_id), "--pdf", str(pdf), "--week", "2027-03-03")
    assert code == 0 and json.loads(out)["week_start"] == "2027-03-01"
    assert pdf.read_bytes().startswith(b"%PDF")


def test_level_proposes_and_accepts(world: factories.World) -> None:
    pm = world.principal("project_manager")
    project_id = factories.make_project(pm, world.customers["East"][1])
    with transaction() as db:
        bind(db, actor=SYSTEM)
        project = db.get(Project, project_id)
        person = resources.create_resource(
            db=db, data=ResourceCreate(name="Consultant"), principal=pm
        )
        # Build and Data migration run in parallel in the template: one person does both.
        for task in plans.leaf_tasks(db, project):
            if task.name in ("Configuration and build", "Data migration"):
                resources.assign(
                    db=db, project_id=project_id, task_id=task.id,
                    data=AssignmentIn(resource_id=person.id), principal=pm,
                )  # fmt: skip
    code, out, _err = _run("level", str(project_id), "--accept", "--time-limit", "5")
    result = json.loads(out)
    assert code == 0 and result["status"] == "accepted"
    assert result["makespan_days"] == 44 + 8 and result["gap"] == 0  # migration after build
    with transaction() as db:
        tasks = {t.name: t for t in plans.tasks(db=db, project=db.get(Project, project_id))}
        build, migration = tasks["Configuration and build"], tasks["Data migration"]
        assert migration.constraint_type == "SNET" or build.constraint_type == "SNET"
        first, second = sorted((build, migration), key=lambda t: t.early_start)
        assert second.early_start >= first.early_finish


def test_export_and_import_round_trip(world: factories.World, tmp_path: Path) -> None:
    pm = world.principal("project_manager")
    project_id = factories.make_project(pm, world.customers["East"][1])
    for fmt, name in (("mspdi", "plan.xml"), ("csv", "plan.csv")):
        path = tmp_path / name
        code, _out, err = _run("export", str(project_id), "--format", fmt, "--out", str(path))
        assert code == 0, err
        customer = str(world.customers["East"][0])
        code, out, err = _run("import", str(path), "--customer", customer, "--name", f"Copy {fmt}")
        assert code == 0, err
        copy_id = json.loads(out)["id"]
        with transaction() as db:
            original = db.get(Project, project_id)
            copy = db.get(Project, copy_id)
            assert copy is not None and original is not None
            assert copy.makespan_days == original.makespan_days == 44
            assert len(plans.links(db=db, project=copy)) >= 11
            names = [t.name for t in plans.leaf_tasks(db, copy)]
            assert "Data migration" in names and "Go-live" in names
    bad = tmp_path / "bad.csv"
    bad.write_text("uid,name\n1,x\n", encoding="utf-8")
    code, _out, err = _run("import", str(bad), "--customer", str(world.customers["East"][0]))
    assert code == 2 and "bad.csv" in err
