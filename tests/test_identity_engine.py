"""The identity-resolution engine: who is the same person (no database involved)."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
import pytest

from clientops.identity import engine, synthetic


def _records(rows: list[dict[str, Any]]) -> pa.Table:
    columns = sorted({key for row in rows for key in row})
    return pa.table({c: pa.array([row.get(c) for row in rows], pa.string()) for c in columns})


def _pairs(rows: list[dict[str, Any]], **kwargs: Any) -> dict[tuple[str, str], engine.Pair]:
    return {(p.left, p.right): p for p in engine.find_pairs(_records(rows), **kwargs)}


def _background(n: int) -> list[dict[str, Any]]:
    """Unrelated people, so a small test file looks like a customer list, not one family."""
    names = ["Olivia Brown", "刘洋", "Noah Garcia", "陈静", "Emma Wilson", "杨帆", "Liam Moore"]
    return [
        {
            "id": f"bg{i:02d}",
            "name": names[i % len(names)] + ("" if i < len(names) else f" {chr(65 + i)}"),
            "birth_date": f"19{50 + i:02d}-0{1 + i % 9}-1{i % 9}",
            "city": "成都",
        }
        for i in range(n)
    ]


# --- characters, not bytes


def test_duckdb_string_distances_count_bytes_which_is_why_hanzi_are_never_measured_with_them() -> (
    None
):
    # The trap: one character apart, yet three edits, because each hanzi is three UTF-8 bytes.
    con = duckdb.connect()
    assert con.sql("SELECT levenshtein('张伟', '张玮')").fetchall()[0][0] == 3
    assert con.sql("SELECT length('张伟'), strlen('张伟')").fetchall()[0] == (2, 6)
    # The engine compares the characters' pinyin instead: 伟 and 玮 are both "wei".
    assert engine.name_forms("张伟") == engine.name_forms("张伟")
    left, right = engine.name_forms("张伟"), engine.name_forms("张玮")
    assert left is not None and right is not None
    assert (left.forward, left.hanzi) == ("zhangwei", "张伟")
    assert right.forward == "zhangwei" and right.hanzi == "张玮"


def test_a_one_character_homophone_is_a_near_match_weaker_than_the_same_name() -> None:
    same = {"birth_date": "1990-01-02", "city": "上海"}
    rows = [
        {"id": "a", "name": "张伟", **same},
        {"id": "b", "name": "张玮", **same},
        {"id": "c", "name": "張偉", **same},
        *_background(8),
    ]
    pairs = _pairs(rows)
    exact, near = pairs[("a", "c")].evidence["name"], pairs[("a", "b")].evidence["name"]
    assert exact["label"] == "same name"
    assert near["label"] == "same pinyin, different characters"
    assert 0 < near["weight"] < exact["weight"]
    assert pairs[("a", "b")].probability < pairs[("a", "c")].probability


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("张伟", "張偉"),  # traditional characters
        ("张伟", "Zhang Wei"),  # pinyin for hanzi
        ("张伟", "ZHANG Wei"),
        ("Zhang Wei", "Wei Zhang"),  # given and family name swapped
        ("张晓明", "Xiaoming Zhang"),
        ("John Smith", "Smith, John"),
        ("José Núñez", "Jose Nunez"),  # accents folded
        ("欧阳娜娜", "Ouyang Nana"),  # two-character surname
        ("曾伟", "Zeng Wei"),  # 曾 read as a surname (zēng), not céng
        ("张伟", "张 伟\u3000"),  # spaces and a full-width space
    ],
)
def test_spellings_of_one_name_are_the_same_name(left: str, right: str) -> None:
    rows = [
        {"id": "1", "name": left, "birth_date": "1985-03-04"},
        {"id": "2", "name": right, "birth_date": "1985-03-04"},
        *_background(6),
    ]
    pair = _pairs(rows)[("1", "2")]
    assert pair.evidence["name"]["label"] == "same name"
    assert pair.evidence["name"]["left"] == left
    assert pair.probability >= 0.5


def test_different_people_with_the_same_birthday_are_not_matched() -> None:
    rows = [
        {"id": "1", "name": "王芳", "birth_date": "1985-03-04", "phone": "13811112222"},
        {"id": "2", "name": "Peter Müller", "birth_date": "1985-03-04", "phone": "13933334444"},
        *_background(6),
    ]
    assert ("1", "2") not in _pairs(rows)


# --- deterministic rules


def test_same_phone_in_any_format_is_a_match_by_rule() -> None:
    rows = [
        {"id": "1", "name": "李娜", "phone": "13812345678"},
        {"id": "2", "name": "Li Na", "phone": "+86 138-1234-5678"},
        {"id": "3", "name": "李娜", "phone": "0086 138 1234 5678"},
        {"id": "4", "name": "Nina Lee", "phone": "１３８１２３４５６７８"},
        *_background(4),
    ]
    pairs = _pairs(rows)
    expected = {("1", "2"), ("1", "3"), ("1", "4"), ("2", "3"), ("2", "4"), ("3", "4")}
    assert {k for k, p in pairs.items() if p.rule == "same_phone"} == expected
    # By rule, whatever the names say: 李娜 and "Nina Lee" share the number.
    assert all(pairs[k].probability == 1.0 for k in expected)
    assert pairs[("1", "4")].evidence["phone"]["label"] == "same number"


def test_same_email_and_same_id_number_are_matches_by_rule() -> None:
    rows = [
        {"id": "e1", "name": "Anna Berg", "email": "Anna.Berg@Example.com "},
        {"id": "e2", "name": "A. Berg", "email": "anna.berg@example.com"},
        {"id": "i1", "name": "赵敏", "id_number": "11010519491231002x"},
        {"id": "i2", "name": "趙敏", "id_number": "110105 19491231 002X"},
        *_background(4),
    ]
    pairs = _pairs(rows)
    assert pairs[("e1", "e2")].rule == "same_email"
    assert pairs[("i1", "i2")].rule == "same_id_number"
    assert pairs[("i1", "i2")].probability == 1.0


def test_a_placeholder_number_shared_by_many_records_decides_nothing() -> None:
    # Eleven unrelated people typed in with the shop's own number.
    people = ["王磊", "Mia Clark", "周杰", "Ethan Hall", "吴敏", "Ava King", "郑浩", "Lucas Hill",
              "孙丽", "Zoe Scott", "马超"]  # fmt: skip
    rows = [
        {"id": f"p{i:02d}", "name": name, "phone": "13800138000", "birth_date": f"19{60 + i}-05-06"}
        for i, name in enumerate(people)
    ]
    assert len(people) > engine.MAX_SHARED
    assert [p for p in engine.find_pairs(_records(rows)) if p.rule == "same_phone"] == []


def test_pairs_are_ordered_and_carry_evidence_with_the_original_values() -> None:
    rows = [
        {"id": "9", "name": "Chen Jing", "phone": "+86 139 0000 1111", "city": "杭州"},
        {"id": "10", "name": "陈静", "phone": "13900001111", "city": "杭州市"},
        *_background(4),
    ]
    pairs = engine.find_pairs(_records(rows))
    assert [(p.left, p.right) for p in pairs] == [("10", "9")]  # string order: "10" < "9"
    evidence = pairs[0].evidence
    assert evidence["phone"] == {
        "label": "same number",
        "weight": evidence["phone"]["weight"],
        "left": "13900001111",
        "right": "+86 139 0000 1111",
    }
    assert evidence["phone"]["weight"] > 0
    assert evidence["address"]["label"] == "same city"  # 杭州 and 杭州市 are one city


# --- clusters


def _pair(left: str, right: str, probability: float) -> engine.Pair:
    return engine.Pair(left, right, probability, 0.0, "model", {})


def test_clusters_are_transitive_and_named_by_their_smallest_id() -> None:
    pairs = [_pair("b", "c", 0.9), _pair("c", "d", 0.8), _pair("e", "f", 0.4)]
    found = engine.clusters(["a", "b", "c", "d", "e", "f"], pairs, min_probability=0.5)
    assert found == {"a": "a", "b": "b", "c": "b", "d": "b", "e": "e", "f": "f"}
    # Lowering the bar joins e and f; a chain d-a then pulls a into b's cluster as its name.
    more = [*pairs, _pair("a", "d", 0.7)]
    lower = engine.clusters(["a", "b", "c", "d", "e", "f"], more, min_probability=0.4)
    assert lower == {"a": "a", "b": "a", "c": "a", "d": "a", "e": "e", "f": "e"}


# --- small inputs, focus, synthetic truth


def test_a_tiny_file_uses_fixed_priors_instead_of_failing() -> None:
    rows = [
        {"id": "1", "name": "黄磊", "birth_date": "1971-12-06", "city": "北京"},
        {"id": "2", "name": "Huang Lei", "birth_date": "1971-12-06", "city": "北京"},
        {"id": "3", "name": "Sara Lund", "birth_date": "1990-02-02"},
    ]
    result = engine.match(_records(rows))
    assert result.trained is False
    assert result.pairs.column("left").to_pylist() == ["1"]
    assert result.pairs.column("right").to_pylist() == ["2"]


def test_records_with_only_an_id_give_no_pairs() -> None:
    result = engine.match(_records([{"id": "1"}, {"id": "2"}]))
    assert result.pairs.num_rows == 0 and result.pairs_compared == 0


def test_focus_returns_only_pairs_touching_the_focus_with_unchanged_scores() -> None:
    data = synthetic.table(1500, seed=3).drop_columns(["entity_id"])
    everything = engine.find_pairs(data)
    focus = {p.left for p in everything[::7]}
    focused = engine.find_pairs(data, focus_ids=focus)
    expected = [p for p in everything if p.left in focus or p.right in focus]
    assert focused and len(focused) < len(everything)
    assert [(p.left, p.right) for p in focused] == [(p.left, p.right) for p in expected]
    assert [round(p.probability, 6) for p in focused] == [round(p.probability, 6) for p in expected]


def test_synthetic_duplicates_are_found_with_high_precision_and_recall() -> None:
    data = synthetic.table(2000, dup_rate=0.2, seed=7)
    truth = dict(
        zip(data.column("id").to_pylist(), data.column("entity_id").to_pylist(), strict=True)
    )
    result = engine.match(data.drop_columns(["entity_id"]), explain=False)
    assert result.trained is True
    edges = zip(result.pairs.column("left").to_pylist(), result.pairs.column("right").to_pylist(),
                strict=True)  # fmt: skip
    scores = synthetic.score_clusters(truth, engine.cluster_edges(truth, edges))
    assert scores.true_pairs > 350  # 400 duplicates, a few people with more than one
    assert scores.precision >= 0.97
    assert scores.recall >= 0.90


def test_the_generator_is_deterministic_and_keeps_its_duplicate_rate() -> None:
    first = synthetic.table(1000, dup_rate=0.2, seed=5)
    assert first.equals(synthetic.table(1000, dup_rate=0.2, seed=5))
    assert not first.equals(synthetic.table(1000, dup_rate=0.2, seed=6))
    entities = first.column("entity_id").to_pylist()
    assert len(entities) - len(set(entities)) == 200
    assert sorted(first.column("id").to_pylist(), key=int) == [str(i) for i in range(1, 1001)]


def test_pairwise_scores_count_pairs_not_records() -> None:
    truth = {"1": "A", "2": "A", "3": "A", "4": "B"}
    found = {"1": "x", "2": "x", "3": "y", "4": "y"}
    scores = synthetic.score_clusters(truth, found)
    # True pairs 1-2, 1-3, 2-3; found 1-2 (right) and 3-4 (wrong).
    assert (scores.true_pairs, scores.found_pairs, scores.correct_pairs) == (3, 2, 1)
    assert scores.precision == 0.5 and scores.recall == pytest.approx(1 / 3)


@pytest.mark.parametrize("columns", [["id", "name"], ["id", "birth_date"], ["id", "email", "city"]])
def test_a_file_with_few_usable_columns_is_trained_as_far_as_it_can_be(columns: list[str]) -> None:
    data = synthetic.table(1200, seed=4)
    result = engine.match(data.select(columns), explain=False)
    assert result.trained is True
    if "email" in columns:
        by_email: dict[str, list[str]] = {}
        for record, email in zip(data["id"].to_pylist(), data["email"].to_pylist(), strict=True):
            if email:
                by_email.setdefault(email.strip().lower(), []).append(record)
        same = {tuple(sorted(ids)) for ids in by_email.values() if len(ids) == 2}
        found = set(zip(result.pairs["left"].to_pylist(), result.pairs["right"].to_pylist(),
                        strict=True))  # fmt: skip
        assert same and same <= found


def test_a_large_file_without_any_duplicate_is_scored_without_failing() -> None:
    # With no shared phone, email or id number, the share of matching pairs estimates as 0:
    # the model must still score (and find nothing), not fail on log(0).
    count = 1500
    surnames = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"
    records = pa.table(
        {
            "id": [str(i) for i in range(count)],
            "name": [f"{surnames[i % 16]}{chr(0x4E00 + 37 * i % 20000)}{i}" for i in range(count)],
            "phone": [f"+86139{i:08d}" for i in range(count)],
            "email": [None] * count,
            "city": ["上海市" if i % 2 else "北京市" for i in range(count)],
        }
    )
    assert engine.find_pairs(records, min_probability=0.5) == []
