"""``clientops schedule FILE [--level] [--time-limit S] [--json]``: the standalone scheduler."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clientops.cli import app

pytestmark = pytest.mark.nodb  # touches no database: runs once, in the SQLite pass

DATA = Path(__file__).parent / "data" / "scheduling"
TASK_KEYS = {"uid", "early_start", "early_finish", "late_start", "late_finish", "total_float",
             "critical"}  # fmt: skip
PLAN = """# capacity: dev=1
uid,name,duration_days,predecessors,resources
1,Design,5,,dev
2,Build,10,1FS,dev
3,Docs,4,1SS+2,dev
4,Go-live,0,"2;3",
"""


def _schedule(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["schedule", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_has_exactly_the_promised_keys_in_working_days(tmp_path: Path) -> None:
    plan = tmp_path / "plan.csv"
    plan.write_text(PLAN)
    code, out, err = _schedule(str(plan), "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert set(payload) == {"makespan_days", "tasks"}
    assert payload["makespan_days"] == 15
    assert all(set(row) == TASK_KEYS for row in payload["tasks"])
    docs = next(row for row in payload["tasks"] if row["uid"] == 3)
    assert docs == {"uid": 3, "early_start": 2, "early_finish": 6, "late_start": 11,
                    "late_finish": 15, "total_float": 9, "critical": False}  # fmt: skip


def test_level_adds_bound_gap_and_status(tmp_path: Path) -> None:
    plan = tmp_path / "plan.csv"
    plan.write_text(PLAN)
    code, out, err = _schedule(str(plan), "--level", "--time-limit", "5", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert set(payload) == {"makespan_days", "tasks", "bound", "gap", "status"}
    # One developer: 5 + 10 + 4 days of work one after another.
    assert payload["makespan_days"] == 19 == payload["bound"]
    assert payload["gap"] == 0 and payload["status"] == "optimal"
    rows = {row["uid"]: row for row in payload["tasks"]}
    assert rows[4]["early_start"] == 19
    starts = sorted((rows[u]["early_start"], rows[u]["early_finish"]) for u in (1, 2, 3))
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(starts))  # never overlap


def test_psplib_instance_levels_to_its_known_optimum() -> None:
    code, out, err = _schedule(str(DATA / "j301_1.sm"), "--level", "--time-limit", "20", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["makespan_days"] == 43 and payload["status"] == "optimal"
    assert len(payload["tasks"]) == 32


def test_ms_project_xml_and_a_readable_table() -> None:
    code, out, _err = _schedule(str(DATA / "ms_project_2016.xml"), "--json")
    assert code == 0
    assert json.loads(out)["makespan_days"] == 26
    code, out, _err = _schedule(str(DATA / "ms_project_2016.xml"))
    assert code == 0
    assert "Customer onboarding portal" in out
    assert "Project length: 26 working days." in out


def test_a_loop_or_a_bad_file_exits_2_with_the_reason(tmp_path: Path) -> None:
    plan = tmp_path / "loop.csv"
    plan.write_text("uid,duration_days,predecessors\n1,2,3\n2,2,1\n3,2,2\n")
    code, _out, err = _schedule(str(plan), "--json")
    assert code == 2
    assert "1 → 2 → 3 → 1" in err
    code, _out, err = _schedule(str(tmp_path / "missing.csv"))
    assert code == 2 and "no such file" in err


def test_the_installed_command_runs_without_a_server(tmp_path: Path) -> None:
    plan = tmp_path / "plan.csv"
    plan.write_text(PLAN)
    done = subprocess.run(
        [sys.executable, "-m", "clientops.cli", "--data-dir", str(tmp_path), "schedule",
         str(plan), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(done.stdout)["makespan_days"] == 15
