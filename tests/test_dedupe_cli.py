"""``clientops dedupe FILE.csv --id COL --field COL:ROLE ... --out clusters.csv``: no server."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clientops.cli import app

HEADER = ["客户编号", "姓名", "手机", "邮箱", "生日"]
ROWS = [
    ["c1", "张伟", "13812345678", "", "1990-01-02"],
    ["c2", "張偉", "+86 138-1234-5678", "", ""],
    ["c3", "Zhang Wei", "", "zw@example.com", "1990-01-02"],
    ["c4", "Mary Jones", "+1 415-234-5678", "mary@example.com", "1970-07-07"],
    ["c5", "Jones Mary", "", "MARY@example.com", ""],
    ["c6", "李娜", "13911112222", "", "1982-03-04"],
    ["c7", "Tom Baker", "", "", ""],
]
FIELDS = ["--field", "姓名:name", "--field", "手机:phone", "--field", "邮箱:email"]
FIELDS += ["--field", "生日:birth_date"]


def _write(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _dedupe(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["dedupe", *args])
    return result.exit_code, result.stdout, result.stderr


def _clusters(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_writes_a_cluster_for_every_row_and_a_json_summary(tmp_path: Path) -> None:
    source = _write(tmp_path / "客户.csv", HEADER, ROWS)
    out = tmp_path / "clusters.csv"
    code, stdout, stderr = _dedupe(str(source), "--id", "客户编号", *FIELDS, "--out", str(out))
    assert code == 0, stderr
    rows = _clusters(out)
    assert rows[0] == ["id", "cluster_id"]
    # Every input row once, in the file's order; each person named by their smallest id.
    assert rows[1:] == [
        ["c1", "c1"], ["c2", "c1"], ["c3", "c1"],  # same phone; pinyin name + birthday
        ["c4", "c4"], ["c5", "c4"],  # same email in another case
        ["c6", "c6"], ["c7", "c7"],
    ]  # fmt: skip
    summary = json.loads(stdout)
    assert summary["records"] == 7
    assert summary["clusters"] == 4
    assert summary["pairs_matched"] >= 3  # c1-c2 (phone), c4-c5 (email), c3 with c1
    assert summary["pairs_compared"] >= summary["pairs_matched"]
    assert summary["seconds"] >= 0
    assert summary["pairs_by_rule"]["same_phone"] == 1
    assert summary["pairs_by_rule"]["same_email"] == 1


def test_the_threshold_and_the_pairs_file(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.csv", HEADER, ROWS)
    out, pairs = tmp_path / "out.csv", tmp_path / "pairs.csv"
    code, stdout, _ = _dedupe(
        str(source), "--id", "客户编号", *FIELDS, "--out", str(out), "--threshold", "1.0",
        "--pairs", str(pairs),
    )  # fmt: skip
    assert code == 0
    # At probability 1 only the rules remain: c3 (model match only) is on its own.
    assert dict(_clusters(out)[1:])["c3"] == "c3"
    written = _clusters(pairs)
    assert written[0] == ["left", "right", "probability", "match_weight", "rule"]
    assert sorted((r[0], r[1], r[4]) for r in written[1:]) == [
        ("c1", "c2", "same_phone"),
        ("c4", "c5", "same_email"),
    ]
    assert json.loads(stdout)["clusters"] == 5


def test_a_gb18030_file_is_read(tmp_path: Path) -> None:
    source = _write(tmp_path / "gbk.csv", HEADER, ROWS, encoding="gb18030")
    out = tmp_path / "out.csv"
    code, _, stderr = _dedupe(str(source), "--id", "客户编号", *FIELDS, "--out", str(out))
    assert code == 0, stderr
    assert dict(_clusters(out)[1:])["c2"] == "c1"


def test_ids_that_look_like_formulas_are_neutralised(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.csv", ["id", "phone"], [["=1+1", "13812345678"], ["2", ""]])
    out = tmp_path / "out.csv"
    code, _, _ = _dedupe(str(source), "--id", "id", "--field", "phone:phone", "--out", str(out))
    assert code == 0
    assert _clusters(out)[1] == ["'=1+1", "'=1+1"]


@pytest.mark.parametrize(
    ("fields", "rows", "message"),
    [
        (["--field", "电话:phone"], ROWS, "column not found: 电话"),
        (["--field", "姓名:nickname"], ROWS, "unknown role nickname"),
        (["--field", "姓名"], ROWS, "expected COLUMN:ROLE"),
        (["--field", "姓名:name", "--field", "手机:name"], ROWS, "role name is given twice"),
        (FIELDS, [*ROWS, ["c1", "又一个", "", "", ""]], "duplicate ids (1), e.g. c1"),
        (FIELDS, [*ROWS, ["", "无编号", "", "", ""]], "1 rows have an empty id"),
    ],
)
def test_bad_requests_exit_2_with_a_clear_message_and_write_nothing(
    tmp_path: Path, fields: list[str], rows: list[list[str]], message: str
) -> None:
    source = _write(tmp_path / "in.csv", HEADER, rows)
    out = tmp_path / "out.csv"
    code, stdout, stderr = _dedupe(str(source), "--id", "客户编号", *fields, "--out", str(out))
    assert code == 2
    assert message in stderr
    assert stdout == ""
    assert not out.exists()


def test_a_missing_file_and_a_bad_threshold_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    code, _, stderr = _dedupe(str(tmp_path / "nope.csv"), "--id", "id", *FIELDS, "--out", str(out))
    assert code == 2 and "file not found" in stderr
    source = _write(tmp_path / "in.csv", HEADER, ROWS)
    code, _, stderr = _dedupe(
        str(source), "--id", "客户编号", *FIELDS, "--out", str(out), "--threshold", "0"
    )
    assert code == 2 and "--threshold" in stderr
