"""Which records are the same person: deterministic rules, then a Fellegi–Sunter model.

Pure: it reads a ``pyarrow.Table`` and returns pairs; it never touches the app database.

1. :func:`standardise` turns the raw role columns into comparable keys (E.164 phones, emails,
   simplified hanzi, pinyin and ASCII-folded names in both orders, address bigrams, ISO dates).
   Work that needs Python (pinyin, OpenCC, accent folding, unusual phones) runs once per
   *distinct* value; everything else is DuckDB SQL over the whole column.
2. Records sharing a normalised phone, email or id number are a match by rule (probability 1).
3. Everything else is scored by a Splink model (DuckDB backend) over the pairs the blocking
   rules propose. ``u`` comes from random sampling, ``m`` from EM, both on the data itself; with
   too few records to learn from, fixed priors are used instead.

DuckDB's ``levenshtein``/``jaro_winkler_similarity`` count UTF-8 bytes, not characters, so no
string distance here ever runs on hanzi: names are compared on pinyin (ASCII), hanzi only by
equality or by character sets, addresses by sets of character bigrams.
"""

from __future__ import annotations

import logging
import math
import re
import time
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from clientops.core.i18n import N_
from clientops.core.normalise import clean_text, parse_phone

logger = logging.getLogger(__name__)

ROLES = (
    "name",
    "given_name",
    "family_name",
    "phone",
    "email",
    "address",
    "postcode",
    "city",
    "birth_date",
    "id_number",
)
RULES = ("same_phone", "same_email", "same_id_number", "model")

# A phone, email or id number shared by more records than this is a placeholder ("13800138000",
# "test@test.com", a switchboard), not a person: it neither decides a match nor blocks.
MAX_SHARED = 10
# Below this many records there is too little to learn m and u from: fixed priors are used.
MIN_RECORDS_TO_TRAIN = 1000
# Pairs sampled for u (random pairs) and for each EM session: enough for stable estimates,
# small enough that training stays a few seconds at a million records.
U_SAMPLE_PAIRS = 1e6
EM_SAMPLE_PAIRS = 2e6
# Assumed recall of the deterministic rules, used to estimate the share of matching pairs.
DETERMINISTIC_RECALL = 0.7

_COMPOUND_TEXT = (
    "欧阳司马上官诸葛东方皇甫尉迟公孙慕容长孙宇文司徒司空令狐西门夏侯轩辕"
    "端木独孤南宫呼延钟离申屠澹台万俟闻人赫连拓跋百里东郭公羊"
)
_COMPOUND_SURNAMES = frozenset(_COMPOUND_TEXT[i : i + 2] for i in range(0, len(_COMPOUND_TEXT), 2))
# Surnames whose reading differs from the character's everyday reading.
_SURNAME_PINYIN = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "查": "zha",
    "区": "ou",
    "乐": "yue",
    "盖": "ge",
    "缪": "miao",
    "翟": "zhai",
    "尉迟": "yuchi",
    "万俟": "moqi",
    "长孙": "zhangsun",
    "种": "chong",
    "覃": "qin",
    "秘": "bi",
    "员": "yun",
    "沈": "shen",
    "柏": "bai",
}
_LETTERS = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Pair:
    """Two records judged to be (probably) the same person, with the reasons."""

    left: str
    right: str
    probability: float
    match_weight: float
    rule: str
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Result:
    """What one run found: the pairs as an Arrow table, plus how much work it took.

    ``pairs`` has columns ``left, right, probability, match_weight, rule``; with
    ``explain=True`` also ``evidence`` (a JSON-ready list per pair, see :func:`find_pairs`).
    """

    pairs: pa.Table
    records: int
    pairs_compared: int
    trained: bool
    comparisons: tuple[str, ...]
    seconds: dict[str, float] = field(default_factory=dict)


class _Stopwatch:
    """Seconds spent per stage, for the summary of a run."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = round(now - self.last, 2)
        self.last = now


# ---------------------------------------------------------------- standardisation helpers


_HANZI = re.compile("[\u3400-\u9fff\U00020000-\U0002ffff]")
_HANZI_NAME = re.compile("[\u3400-\u9fff\U00020000-\U0002ffff ]+")
# Codepoint → toneless pinyin, filled as characters are met; str.translate then converts a
# whole name in C, ~50x faster than calling pypinyin per name.
_PINYIN: dict[int, str] = {}


def _learn_pinyin(chars: Iterable[str]) -> None:
    """Add the pinyin of the hanzi among ``chars`` that the table does not know yet."""
    new = [c for c in chars if ord(c) not in _PINYIN and _HANZI.match(c)]
    if not new:
        return
    from pypinyin import lazy_pinyin

    for char in new:
        _PINYIN[ord(char)] = "".join(lazy_pinyin(char)).lower()


def hanzi_pinyin(text: str) -> str:
    """The pinyin of each hanzi in ``text``, toneless and joined (``张伟`` → ``zhangwei``)."""
    hanzi = "".join(_HANZI.findall(text))
    _learn_pinyin(set(hanzi))
    return hanzi.translate(_PINYIN)


def surname_pinyin(surname: str) -> str:
    """The pinyin of a surname, with the surname readings of characters like 曾 and 单."""
    return _SURNAME_PINYIN.get(surname) or hanzi_pinyin(surname)


def split_hanzi_name(name: str) -> tuple[str, str]:
    """``(family, given)`` of a hanzi name: a known two-character surname, else the first."""
    if len(name) > 2 and name[:2] in _COMPOUND_SURNAMES:
        return name[:2], name[2:]
    return name[:1], name[1:]


def fold_ascii(text: str) -> str:
    """Accents removed and case folded (``José Ñúñez`` → ``jose nunez``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(values: Sequence[str]) -> list[str]:
    """Traditional characters made simplified, for many strings in one OpenCC call."""
    if not values:
        return []
    # One call over the joined text is ~10x faster than one call per value.
    joined = "\n".join(v.replace("\n", " ") for v in values)
    return str(_t2s().convert(joined)).split("\n")


@dataclass(frozen=True)
class NameForms:
    """The comparable forms of one name.

    ``hanzi``: simplified characters (None for a Latin name); ``forward`` and ``reverse``: ASCII
    letters in the written order and with the family/given parts swapped; ``key``: the sorted
    parts, so ``Zhang Wei``, ``Wei Zhang`` and ``张伟`` share it; ``initials``: sorted first
    letters.
    """

    hanzi: str | None
    forward: str
    reverse: str
    key: str
    initials: str


def name_forms(name: str, given: str = "", family: str = "") -> NameForms | None:
    """Comparable forms of a name given whole, or as given and family parts.

    Traditional characters are made simplified first (see :func:`to_simplified`).
    """
    name, given, family = to_simplified([_clean(name or ""), _clean(given), _clean(family)])
    forms = _name_tuple(name, given, family)
    return NameForms(*forms) if forms else None


def _name_tuple(
    name: str, given: str, family: str, *, learn: bool = True
) -> tuple[str | None, str, str, str, str] | None:
    """The hot path of :func:`name_forms`: cleaned, simplified input; a tuple out."""
    if not name:
        name = f"{family}{given}" if _HANZI.search(family + given) else f"{given} {family}".strip()
        from_parts = bool(family)
    else:
        from_parts = False
    if not name:
        return None
    if name.isascii():
        letters, hanzi = _LETTERS.findall(name.lower()), ""
    elif _HANZI_NAME.fullmatch(name):
        letters, hanzi = [], name.replace(" ", "")
    else:
        letters = _LETTERS.findall(fold_ascii(name))
        hanzi = "" if letters else "".join(_HANZI.findall(name))
    if hanzi:
        fam, giv = (family, given) if from_parts else split_hanzi_name(hanzi)
        if learn:
            _learn_pinyin(set(hanzi))
        parts = [
            p
            for p in (_SURNAME_PINYIN.get(fam) or fam.translate(_PINYIN), giv.translate(_PINYIN))
            if p
        ]
        reverse = "".join(parts[::-1])
    else:
        parts = letters
        reverse = "".join(parts[-1:] + parts[:-1])
    if not parts:
        return None
    ordered = sorted(parts)
    return (
        hanzi or None,
        "".join(parts),
        reverse,
        "".join(ordered),
        "".join(p[0] for p in ordered),
    )


def _clean(text: str) -> str:
    # Most values are plain ASCII: skip the Unicode normalisation they do not need.
    if text.isascii() and text.isprintable():
        return " ".join(text.split())
    return clean_text(text)


def normalise_phone(value: str, region: str = "CN") -> str | None:
    """E.164 form of a phone, or None when it is not a valid number."""
    try:
        return parse_phone(value, region)
    except ValueError:
        return None


# ---------------------------------------------------------------- standardisation in DuckDB

# Full-width ASCII forms and the ideographic space, for SQL translate(); the full-width
# apostrophe is left out because its narrow form would end the SQL string literal.
_WIDE = "".join(chr(c) for c in range(0xFF01, 0xFF5F) if chr(c) != "＇") + "\u3000"
_NARROW = "".join(chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F) if chr(c) != "＇") + " "
_INVISIBLE = (
    "[\\x{200b}-\\x{200f}\\x{202a}-\\x{202e}\\x{2060}-\\x{2064}\\x{2066}-\\x{2069}"
    "\\x{feff}\\x{00}-\\x{08}\\x{0e}-\\x{1f}\\x{7f}-\\x{9f}]"
)

_STD_COLUMNS = (
    "nm_hz",
    "nm_fwd",
    "nm_rev",
    "nm_key",
    "nm_init",
    "nm_chars",
    "ph",
    "em",
    "em_user",
    "addr",
    "addr_street",
    "pc",
    "city",
    "dob",
    "yob",
    "em_dom",
    "ph_head",
    "ph_tail",
    "idn",
)


def _raw_select(columns: Collection[str]) -> str:
    parts = ["CAST(id AS VARCHAR) AS unique_id"]
    for role in ROLES:
        source = f"NULLIF(TRIM(CAST(\"{role}\" AS VARCHAR)), '')" if role in columns else "NULL"
        parts.append(f"CAST({source} AS VARCHAR) AS raw_{role}")
    return ", ".join(parts)


def _map_distinct(
    con: duckdb.DuckDBPyConnection, sql: str, convert: Any, name: str, columns: Sequence[str]
) -> None:
    """Run ``convert`` once per distinct key of ``sql`` and store the answers as table ``name``."""
    keys = [row[0] for row in con.sql(sql).fetchall()]
    values = convert(keys)
    data: dict[str, list[Any]] = {"k": keys}
    for index, column in enumerate(columns):
        data[column] = [v[index] if v is not None else None for v in values]
    types = {"nm_chars": pa.list_(pa.string())}
    schema = pa.schema([("k", pa.string())] + [(c, types.get(c, pa.string())) for c in columns])
    con.register(f"{name}_arrow", pa.table(data, schema=schema))
    con.sql(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(f"{name}_arrow")


def _clean_sql(column: str) -> str:
    """SQL for what :func:`clean_text` does to ``column``: full-width → ASCII, no invisible or
    control characters, whitespace runs made one space, trimmed."""
    return (
        f"trim(regexp_replace(regexp_replace({_narrow_sql(column)}, "
        f"'{_INVISIBLE}', '', 'g'), '\\s+', ' ', 'g'))"
    )


def _narrow_sql(column: str) -> str:
    """SQL for full-width forms made ASCII; DuckDB's translate is slow with a long table, so
    it runs only on the rare values that hold a full-width character."""
    return (
        f"CASE WHEN regexp_matches({column}, '[\\x{{ff01}}-\\x{{ff5e}}\\x{{3000}}]') "
        f"THEN translate({column}, '{_WIDE}', '{_NARROW}') ELSE {column} END"
    )


def _name_source_sql() -> str:
    # One key per (name, given, family) so each distinct combination is converted once.
    return " || chr(1) || ".join(
        f"coalesce({_clean_sql(f'raw_{role}')}, '')"
        for role in ("name", "given_name", "family_name")
    )


def _convert_names(keys: Sequence[str]) -> list[tuple[Any, ...] | None]:
    # Keys arrive cleaned by SQL (_CLEAN); one OpenCC call converts them all.
    simplified = to_simplified(keys)
    _learn_pinyin(set("".join(simplified)))
    out: list[tuple[Any, ...] | None] = []
    for key in simplified:
        name, given, family = key.split("\x01")
        forms = _name_tuple(name, given, family, learn=False)
        out.append(None if forms is None else (*forms, sorted(set(forms[0])) if forms[0] else None))
    return out


def _convert_places(keys: Sequence[str]) -> list[tuple[Any, ...] | None]:
    out: list[tuple[Any, ...] | None] = []
    for value in to_simplified(keys):
        if value.isascii():
            text = value.casefold()
        elif _HANZI.search(value):
            text = value.replace(" ", "")
        else:
            text = fold_ascii(value)
        out.append((text or None,))
    return out


def _convert_phones(keys: Sequence[str]) -> list[tuple[Any, ...] | None]:
    return [(normalise_phone(k),) for k in keys]


_PHONE_DIGITS = f"regexp_replace({_narrow_sql('raw_phone')}, '[\\s().\\-]', '', 'g')"
# Chinese mobiles (+86/0086/86 or none) and +1/001 numbers, the bulk of real data, are
# normalised in SQL; anything else goes through phonenumbers once per distinct value.
_PHONE_FAST = """
CASE
  WHEN regexp_matches(ph_digits, '^(\\+86|0086|86)?1[3-9][0-9]{9}$')
    THEN '+86' || right(ph_digits, 11)
  WHEN regexp_matches(ph_digits, '^(\\+|00)1[2-9][0-9]{2}[2-9][0-9]{6}$')
    THEN '+1' || right(ph_digits, 10)
END"""

_EMAIL = f"lower(trim({_narrow_sql('raw_email')}))"


def _standardise_into(con: duckdb.DuckDBPyConnection, records: pa.Table) -> str:
    """Create table ``std`` (one row per record, the comparable columns); returns its name."""
    con.register("records_in", records)
    con.sql(
        f"CREATE OR REPLACE TEMP TABLE raw AS SELECT {_raw_select(records.column_names)} "
        "FROM records_in"
    )
    con.unregister("records_in")
    con.sql(
        f"CREATE OR REPLACE TEMP TABLE raw2 AS SELECT *, {_PHONE_FAST} AS ph_fast FROM "
        f"(SELECT *, {_name_source_sql()} AS name_src, {_PHONE_DIGITS} AS ph_digits FROM raw)"
    )
    _map_distinct(
        con,
        "SELECT DISTINCT name_src FROM raw2 WHERE name_src <> chr(1) || chr(1)",
        _convert_names,
        "names_std",
        ("nm_hz", "nm_fwd", "nm_rev", "nm_key", "nm_init", "nm_chars"),
    )
    _map_distinct(
        con,
        f"SELECT DISTINCT {_clean_sql('raw_address')} FROM raw2 WHERE raw_address IS NOT NULL "
        f"UNION SELECT DISTINCT {_clean_sql('raw_city')} FROM raw2 WHERE raw_city IS NOT NULL",
        _convert_places,
        "places_std",
        ("place",),
    )
    _map_distinct(
        con,
        "SELECT DISTINCT raw_phone FROM raw2 WHERE raw_phone IS NOT NULL AND ph_fast IS NULL",
        _convert_phones,
        "phones_std",
        ("e164",),
    )
    con.sql(_STD_SQL)
    for table in ("raw", "raw2", "names_std", "places_std", "phones_std"):
        con.sql(f"DROP TABLE IF EXISTS {table}")
    return "std"


_STD_SQL = f"""
CREATE OR REPLACE TEMP TABLE std AS
WITH joined AS (
  SELECT r.*, n.nm_hz, n.nm_fwd, n.nm_rev, n.nm_key, n.nm_init, n.nm_chars,
         coalesce(r.ph_fast, p.e164) AS ph,
         CASE WHEN regexp_matches({_EMAIL}, '^[^@\\s]+@[^@\\s]+\\.[a-z]{{2,}}$') THEN {_EMAIL}
         END AS em,
         a.place AS addr,
         regexp_replace(c.place, '市$', '') AS city,
         NULLIF(upper(regexp_replace({_narrow_sql("raw_postcode")},
                '\\s', '', 'g')), '') AS pc,
         strftime(try_strptime({_narrow_sql("raw_birth_date")},
                  ['%Y-%m-%d', '%Y/%m/%d', '%Y%m%d', '%Y.%m.%d', '%Y-%m-%d %H:%M:%S']),
                  '%Y-%m-%d') AS dob,
         CASE WHEN a.place IS NULL THEN NULL
              WHEN regexp_matches(a.place, '[区县旗]')
                THEN regexp_extract(a.place, '[区县旗]([^区县旗]+)$', 1)
              WHEN regexp_matches(a.place, '市') THEN regexp_extract(a.place, '市([^市]+)$', 1)
              ELSE a.place END AS street,
         CASE WHEN length(regexp_replace(raw_id_number, '[\\s-]', '', 'g')) >= 6
              THEN upper(regexp_replace({_narrow_sql("raw_id_number")},
                   '[\\s-]', '', 'g')) END AS idn
  FROM raw2 r
  LEFT JOIN names_std n ON n.k = r.name_src
  LEFT JOIN phones_std p ON p.k = r.raw_phone AND r.ph_fast IS NULL
  LEFT JOIN places_std a ON a.k = {_clean_sql("r.raw_address")}
  LEFT JOIN places_std c ON c.k = {_clean_sql("r.raw_city")}
)
SELECT unique_id, nm_hz, nm_fwd, nm_rev, nm_key, nm_init, nm_chars, ph, em,
       -- The street part of a Chinese address (after the last district/county), so that
       -- "广东省深圳市南山区科技路1号" and "深圳南山区科技路1号" agree on it.
       CASE WHEN em IS NOT NULL AND length(split_part(em, '@', 1)) >= 4
            THEN split_part(em, '@', 1) END AS em_user,
       addr,
       CASE WHEN length(street) >= 4 THEN street END AS addr_street,
       pc, city, dob, left(dob, 4) AS yob, idn,
       -- Halves of the phone and the email domain: blocking keys that survive a typo.
       split_part(em, '@', 2) AS em_dom, left(ph, length(ph) - 4) AS ph_head,
       right(ph, 4) AS ph_tail,
       coalesce(raw_name, NULLIF(trim(
         CASE WHEN regexp_matches(coalesce(raw_family_name, '') || coalesce(raw_given_name, ''),
                                  '[\\x{{3400}}-\\x{{9fff}}]')
              THEN coalesce(raw_family_name, '') || coalesce(raw_given_name, '')
              ELSE coalesce(raw_given_name, '') || ' ' || coalesce(raw_family_name, '') END),
         '')) AS raw_name,
       raw_phone, raw_email, NULLIF(concat_ws(', ', raw_address, raw_city, raw_postcode), '')
       AS raw_place, raw_birth_date, raw_id_number
FROM joined
"""


def standardise(records: pa.Table) -> pa.Table:
    """The comparable columns of ``records`` (id → ``unique_id``; see the module docstring)."""
    _check_input(records)
    with _connection() as con:
        _standardise_into(con, records)
        return con.sql("SELECT * FROM std ORDER BY unique_id").to_arrow_table()


def _check_input(records: pa.Table) -> None:
    if "id" not in records.column_names:
        raise ValueError("records need an 'id' column")


@contextmanager
def _connection() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(":memory:")
    # Stay well inside the 8 GB budget; DuckDB spills to a temp directory beyond this.
    con.sql("SET memory_limit = '5GB'")
    con.sql("SET preserve_insertion_order = false")
    con.sql("SET enable_progress_bar = false")
    try:
        yield con
    finally:
        con.close()


# ---------------------------------------------------------------- the model

# What Splink and DuckDB raise when the data give a training step nothing to learn from.
_TRAINING_ERRORS: tuple[type[Exception], ...] = (ValueError, ZeroDivisionError, duckdb.Error)


@dataclass(frozen=True)
class Level:
    """One comparison level: SQL over ``<col>_l``/``<col>_r``, a label, prior m and u."""

    sql: str
    label: str
    m: float
    u: float
    tf_column: str | None = None


@dataclass(frozen=True)
class Comparison:
    """A comparison the model makes when its columns are present in the data."""

    name: str
    columns: tuple[str, ...]
    levels: tuple[Level, ...]
    null_sql: str


def _jw(left: str, right: str) -> str:
    return f"jaro_winkler_similarity({left}, {right})"


COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "name",
        ("nm_hz", "nm_fwd", "nm_rev", "nm_key", "nm_chars"),
        (
            Level(
                "nm_key_l = nm_key_r AND (nm_hz_l = nm_hz_r OR nm_hz_l IS NULL OR nm_hz_r IS NULL)",
                N_("same name"),
                0.80,
                0.0004,
                tf_column="nm_key",
            ),
            Level(
                "nm_key_l = nm_key_r",
                N_("same pinyin, different characters"),
                0.04,
                0.0002,
                tf_column="nm_key",
            ),
            Level(
                "nm_hz_l IS NOT NULL AND nm_hz_r IS NOT NULL AND length(nm_hz_l) >= 3 "
                "AND length(nm_hz_l) = length(nm_hz_r) "
                "AND len(list_intersect(nm_chars_l, nm_chars_r)) >= length(nm_hz_l) - 1",
                N_("one character differs"),
                0.04,
                0.0005,
            ),
            Level(
                # Not between two hanzi names: pinyin syllables are short and shared by many
                # characters, so 程琳 (chenglin) and 李成云 (lichengyun) look alike in pinyin.
                "(nm_hz_l IS NULL OR nm_hz_r IS NULL) AND "
                f"greatest({_jw('nm_fwd_l', 'nm_fwd_r')}, {_jw('nm_fwd_l', 'nm_rev_r')}) >= 0.92",
                N_("similar spelling"),
                0.06,
                0.01,
            ),
        ),
        "nm_key_l IS NULL OR nm_key_r IS NULL",
    ),
    Comparison(
        "phone",
        ("ph",),
        (
            Level("ph_l = ph_r", N_("same number"), 0.60, 0.00005),
            Level(
                "length(ph_l) = length(ph_r) AND hamming(ph_l, ph_r) <= 1",
                N_("one digit differs"),
                0.05,
                0.000001,
            ),
        ),
        "ph_l IS NULL OR ph_r IS NULL",
    ),
    Comparison(
        "email",
        ("em", "em_user"),
        (
            Level("em_l = em_r", N_("same address"), 0.70, 0.00005),
            Level("em_user_l = em_user_r", N_("same user name, other domain"), 0.05, 0.00001),
            Level(
                "levenshtein(em_l, em_r) <= 2", N_("one or two characters differ"), 0.05, 0.00001
            ),
        ),
        "em_l IS NULL OR em_r IS NULL",
    ),
    # Address, postcode and city are one comparison: they say the same thing (where someone
    # lives), and counting them as three independent agreements makes housemates one person.
    Comparison(
        "address",
        ("addr", "addr_street", "pc", "city"),
        (
            Level("addr_l = addr_r", N_("same address"), 0.55, 0.0002),
            Level("addr_street_l = addr_street_r", N_("same street and number"), 0.08, 0.00002),
            Level("pc_l = pc_r", N_("same postcode"), 0.05, 0.001),
            Level("city_l = city_r", N_("same city"), 0.15, 0.02),
        ),
        "(addr_l IS NULL OR addr_r IS NULL) AND (pc_l IS NULL OR pc_r IS NULL) "
        "AND (city_l IS NULL OR city_r IS NULL)",
    ),
    Comparison(
        "birth_date",
        ("dob",),
        (
            Level("dob_l = dob_r", N_("same date"), 0.85, 0.00005),
            Level(
                "hamming(dob_l, dob_r) <= 1 OR (left(dob_l, 4) = left(dob_r, 4) "
                "AND substring(dob_l, 6, 2) = right(dob_r, 2) "
                "AND right(dob_l, 2) = substring(dob_r, 6, 2))",
                N_("one digit differs or day and month swapped"),
                0.05,
                0.001,
            ),
        ),
        "dob_l IS NULL OR dob_r IS NULL",
    ),
    Comparison(
        "id_number",
        ("idn",),
        (
            Level("idn_l = idn_r", N_("same number"), 0.80, 0.00001),
            Level(
                "levenshtein(idn_l, idn_r) <= 2", N_("one or two characters differ"), 0.10, 0.000001
            ),
        ),
        "idn_l IS NULL OR idn_r IS NULL",
    ),
)
LABEL_MISSING = N_("missing on one side")
LABEL_DIFFERENT = N_("different")
_RAW_FOR = {
    "name": "raw_name",
    "phone": "raw_phone",
    "email": "raw_email",
    "address": "raw_place",
    "birth_date": "raw_birth_date",
    "id_number": "raw_id_number",
}

# Blocking rules for the model: each proposes pairs sharing these standardised columns. All are
# equalities, so each is a hash join and the number of pairs stays near-linear in the records.
BLOCKING_RULES: tuple[tuple[str, ...], ...] = (
    ("nm_key", "yob"),
    ("nm_key", "pc"),
    ("nm_key", "city"),
    ("nm_key", "addr_street"),
    ("nm_key", "em_dom"),
    ("nm_key", "ph_head"),
    ("nm_key", "ph_tail"),
    ("dob", "pc"),
    ("dob", "nm_init"),
    ("addr_street",),
    ("em_user",),
)
# Only when nothing else besides the name is there to block on.
NAME_ONLY_RULE = ("nm_key",)


def _level_dicts(comparison: Comparison, *, term_frequencies: bool) -> list[dict[str, Any]]:
    """Splink comparison levels with prior m/u; the "different" level takes what is left."""
    null = {
        "sql_condition": _sides(comparison.null_sql),
        "label_for_charts": LABEL_MISSING,
        "is_null_level": True,
    }
    levels: list[dict[str, Any]] = [null]
    for level in comparison.levels:
        entry: dict[str, Any] = {
            "sql_condition": _sides(level.sql),
            "label_for_charts": level.label,
            "m_probability": level.m,
            "u_probability": level.u,
        }
        if level.tf_column and term_frequencies:
            entry["tf_adjustment_column"] = level.tf_column
            entry["tf_adjustment_weight"] = 1.0
        levels.append(entry)
    levels.append(
        {
            "sql_condition": "ELSE",
            "label_for_charts": LABEL_DIFFERENT,
            "m_probability": max(1e-4, 1 - sum(lv.m for lv in comparison.levels)),
            "u_probability": max(1e-4, 1 - sum(lv.u for lv in comparison.levels)),
        }
    )
    return levels


_SIDE = re.compile(r"\b([a-z_]+)_(l|r)\b")


def _sides(sql: str) -> str:
    """``nm_key_l`` → ``"nm_key_l"`` (Splink wants the side columns quoted)."""
    return _SIDE.sub(lambda m: f'"{m.group(1)}_{m.group(2)}"', sql)


def _present_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    counts = con.sql(
        "SELECT " + ", ".join(f"count({c})" for c in _STD_COLUMNS) + " FROM std"
    ).fetchall()[0]
    assert counts is not None
    return {c for c, n in zip(_STD_COLUMNS, counts, strict=True) if n}


def _settings(
    comparisons: Sequence[Comparison],
    rules: Sequence[tuple[str, ...]],
    *,
    prior: float,
    explain: bool,
    term_frequencies: bool,
) -> dict[str, Any]:
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": prior,
        "comparisons": [
            {
                "output_column_name": c.name,
                "comparison_description": c.name,
                "comparison_levels": _level_dicts(c, term_frequencies=term_frequencies),
            }
            for c in comparisons
        ],
        "blocking_rules_to_generate_predictions": [_rule_sql(r) for r in rules],
        "retain_matching_columns": explain,
        "retain_intermediate_calculation_columns": explain,
        "additional_columns_to_retain": (
            [_RAW_FOR[c.name] for c in comparisons] if explain else []
        ),
        "em_convergence": 0.001,
        "max_iterations": 20,
    }


def _rule_sql(columns: Sequence[str]) -> str:
    return " AND ".join(f'l."{c}" = r."{c}"' for c in columns)


@contextmanager
def _quiet_splink() -> Iterator[None]:
    logger = logging.getLogger("splink")
    before = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(before)


def _deterministic_sql(focus: bool) -> str:
    focus_filter = (
        "WHERE l.unique_id IN (SELECT id FROM focus) OR r.unique_id IN (SELECT id FROM focus)"
        if focus
        else ""
    )
    return f"""
    CREATE OR REPLACE TEMP TABLE det AS
    WITH keys AS (
      SELECT unique_id, 1 AS pri, ph AS v FROM std WHERE ph IS NOT NULL
      UNION ALL SELECT unique_id, 2, em FROM std WHERE em IS NOT NULL
      UNION ALL SELECT unique_id, 3, idn FROM std WHERE idn IS NOT NULL
    ), usable AS (
      SELECT * FROM keys QUALIFY count(*) OVER (PARTITION BY pri, v) BETWEEN 2 AND {MAX_SHARED}
    )
    SELECT l.unique_id AS join_key_l, r.unique_id AS join_key_r, min(l.pri) AS pri
    FROM usable l JOIN usable r ON l.pri = r.pri AND l.v = r.v AND l.unique_id < r.unique_id
    {focus_filter}
    GROUP BY ALL
    """


def _placeholder_values_sql() -> str:
    # Blocking on a placeholder value would compare every record holding it with every other.
    return f"""
    UPDATE std SET em_user = NULL WHERE em_user IN (
      SELECT em_user FROM std WHERE em_user IS NOT NULL GROUP BY em_user
      HAVING count(*) > {MAX_SHARED})
    """


class _Model:
    """A Splink linker over table ``std`` in ``con``, trained or with priors."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        present: set[str],
        records: int,
        *,
        explain: bool,
    ) -> None:
        from splink import DuckDBAPI, Linker

        self.con = con
        self.records = records
        self.present = present
        self.comparisons = tuple(c for c in COMPARISONS if any(col in present for col in c.columns))
        context = {"dob", "pc", "city", "addr", "em_user"} & present
        rules = [r for r in BLOCKING_RULES if set(r) <= present]
        if "nm_key" in present and not (context - {"em_user"}):
            rules.append(NAME_ONLY_RULE)
        self.rules = tuple(rules)
        self.db_api = DuckDBAPI(connection=con)
        table = self.db_api.register("std")
        prior = min(0.5, 1.0 / max(records, 2))
        # Term frequencies from a handful of records would say every name is common.
        self.will_train = records >= MIN_RECORDS_TO_TRAIN and bool(self.comparisons)
        settings = _settings(
            self.comparisons,
            self.rules,
            prior=prior,
            explain=explain,
            term_frequencies=self.will_train,
        )
        self.linker = Linker(table, settings, log_level=None)
        self.trained = False

    def train(self, seed: int) -> None:
        """Estimate u by random sampling and m by EM; keep the priors where a step cannot."""
        from splink.internals.exceptions import SplinkException

        if not self.will_train:
            return
        errors: tuple[type[Exception], ...] = (*_TRAINING_ERRORS, SplinkException)
        training = self.linker.training
        steps: list[Callable[[], object]] = [
            self._estimate_prior,
            lambda: training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=seed),
        ]
        steps += [partial(self._expectation_maximisation, column) for column in self._em_blocks()]
        for step in steps:
            try:
                step()
                self._bound_prior()
            except errors as exc:
                # Odd data (one name for everyone, no pairs on a column): keep the priors for
                # what this step would have estimated, and say so in the log.
                logger.info("identity model: a training step kept its priors: %s", exc)
        self.trained = True

    def _bound_prior(self) -> None:
        # Data without a single deterministic match (or EM on it) estimates the share of
        # matching pairs as 0, whose log is undefined: keep it between one pair in all and 1/2.
        settings = self.linker._settings_obj
        share = settings._probability_two_random_records_match
        floor = 1.0 / max(self.records * (self.records - 1) / 2, 1.0)
        if not math.isfinite(share) or not floor <= share <= 0.5:
            fixed = floor if not math.isfinite(share) else min(max(share, floor), 0.5)
            settings._probability_two_random_records_match = fixed

    def _em_blocks(self) -> list[str]:
        """Columns to block EM sessions on: the name, then one other that most records have.

        A session estimates every comparison but the one it blocks on, so it is only worth
        running when there is another comparison to estimate.
        """
        if len(self.comparisons) < 2:
            return []
        names = {c.name for c in self.comparisons}
        blocks = ["nm_key"] if "name" in names else []
        others = [c for c in ("dob", "pc", "addr", "city", "em", "ph") if c in self.present]
        return blocks + others[:1]

    def _expectation_maximisation(self, column: str) -> None:
        from splink import block_on

        self.linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(column), estimate_without_term_frequencies=True, max_pairs=EM_SAMPLE_PAIRS
        )

    def _estimate_prior(self) -> None:
        rules: list[str | Any] = [_rule_sql((c,)) for c in ("ph", "em", "idn") if c in self.present]
        if not rules:
            return
        self.linker.training.estimate_probability_two_random_records_match(
            rules, recall=DETERMINISTIC_RECALL
        )

    def blocked_pairs(self, *, focus: bool) -> tuple[str, int]:
        """Table of the pairs the blocking rules propose, less the deterministic ones."""
        if not self.rules:
            self.con.sql(
                "CREATE OR REPLACE TEMP TABLE cand (match_key VARCHAR, join_key_l VARCHAR, "
                "join_key_r VARCHAR)"
            )
            return "cand", 0
        blocked = self.linker.inference.compute_blocked_pairs_for_predict()
        focus_filter = (
            "AND (b.join_key_l IN (SELECT id FROM focus) OR b.join_key_r IN (SELECT id FROM focus))"
            if focus
            else ""
        )
        self.con.sql(
            f"""CREATE OR REPLACE TEMP TABLE cand AS SELECT b.* FROM {blocked.physical_name} b
            WHERE NOT EXISTS (SELECT 1 FROM det d WHERE d.join_key_l = b.join_key_l
                              AND d.join_key_r = b.join_key_r) {focus_filter}"""
        )
        blocked.drop_table_from_database_and_remove_from_cache()
        count = self.con.sql("SELECT count(*) FROM cand").fetchall()[0]
        return "cand", int(count[0]) if count else 0

    def score(self, pairs_table: str, threshold: float | None) -> str | None:
        """Score the pairs of ``pairs_table`` (match_key, join_key_l, join_key_r)."""
        if not self.comparisons:
            return None
        registered = self.db_api.register(pairs_table, table_name=f"{pairs_table}_{_next()}")
        self.linker.table_management.register_blocked_pairs_for_predict(registered)
        predictions = self.linker.inference.predict(
            threshold_match_probability=threshold, warning_mode="never"
        )
        return str(predictions.physical_name)


_COUNTER = iter(range(1, 1 << 62))


def _next() -> int:
    return next(_COUNTER)


def match(
    records: pa.Table,
    *,
    min_probability: float = 0.5,
    focus_ids: Collection[str] | None = None,
    seed: int = 1,
    explain: bool = True,
) -> Result:
    """Find the pairs of ``records`` that are the same person (see :func:`find_pairs`).

    Returns them as an Arrow table, cheaper than :class:`Pair` objects for millions of rows;
    ``explain=False`` skips the per-comparison evidence.
    """
    _check_input(records)
    watch = _Stopwatch()
    with _connection() as con, _quiet_splink():
        _standardise_into(con, records)
        con.sql(_placeholder_values_sql())
        watch.lap("standardise")
        focus = focus_ids is not None
        if focus:
            ids = pa.table({"id": pa.array(sorted(set(focus_ids or ())), pa.string())})
            con.register("focus_in", ids)
            con.sql("CREATE OR REPLACE TEMP TABLE focus AS SELECT * FROM focus_in")
        con.sql(_deterministic_sql(focus))
        model = _Model(con, _present_columns(con), records.num_rows, explain=explain)
        model.train(seed)
        watch.lap("train")
        candidates, compared = model.blocked_pairs(focus=focus)
        det_count = _count(con, "det")
        watch.lap("block")
        # Splink turns the threshold into a weight: probability 1 would be an infinite one.
        scored = model.score(candidates, min(min_probability, 0.999999)) if compared else None
        watch.lap("score")
        table = _collect(con, model, scored, min_probability, explain)
        watch.lap("collect")
        return Result(
            pairs=table,
            records=records.num_rows,
            pairs_compared=compared + det_count,
            trained=model.trained,
            comparisons=tuple(c.name for c in model.comparisons),
            seconds=watch.laps,
        )


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.sql(f"SELECT count(*) FROM {table}").fetchall()[0]
    return int(row[0]) if row else 0


def _collect(
    con: duckdb.DuckDBPyConnection,
    model: _Model,
    scored: str | None,
    min_probability: float,
    explain: bool,
) -> pa.Table:
    """Deterministic pairs (scored for their evidence) and model pairs, as one Arrow table."""
    con.sql(
        "CREATE OR REPLACE TEMP TABLE det_pairs AS SELECT '0' AS match_key, join_key_l, "
        "join_key_r FROM det"
    )
    rule_case = (
        "CASE d.pri WHEN 1 THEN 'same_phone' WHEN 2 THEN 'same_email' ELSE 'same_id_number' END"
    )
    det_scored = model.score("det_pairs", None) if _count(con, "det") else None
    parts: list[pa.Table] = []
    if det_scored is not None:
        parts.append(
            con.sql(
                f"SELECT s.*, {rule_case} AS rule FROM {det_scored} s JOIN det d "
                "ON d.join_key_l = s.unique_id_l AND d.join_key_r = s.unique_id_r"
            ).to_arrow_table()
        )
    elif _count(con, "det"):
        parts.append(
            con.sql(
                "SELECT join_key_l AS unique_id_l, join_key_r AS unique_id_r, "
                f"0.0 AS match_weight, 1.0 AS match_probability, {rule_case} AS rule FROM det d"
            ).to_arrow_table()
        )
    if scored is not None:
        parts.append(
            con.sql(
                f"SELECT *, 'model' AS rule FROM {scored} "
                f"WHERE match_probability >= {float(min_probability)!r}"
            ).to_arrow_table()
        )
    return _shape(parts, model, explain)


_BASE_SCHEMA = pa.schema(
    [
        ("left", pa.string()),
        ("right", pa.string()),
        ("probability", pa.float64()),
        ("match_weight", pa.float64()),
        ("rule", pa.string()),
    ]
)


def _shape(parts: list[pa.Table], model: _Model, explain: bool) -> pa.Table:
    """One table with the public column names; deterministic pairs get probability 1."""
    columns: dict[str, list[Any]] = {name: [] for name in _BASE_SCHEMA.names}
    evidence: list[list[dict[str, Any]]] = []
    for part in parts:
        rules = part.column("rule").to_pylist()
        columns["left"] += part.column("unique_id_l").to_pylist()
        columns["right"] += part.column("unique_id_r").to_pylist()
        columns["rule"] += rules
        columns["match_weight"] += part.column("match_weight").to_pylist()
        columns["probability"] += [
            1.0 if rule != "model" else float(p)
            for rule, p in zip(rules, part.column("match_probability").to_pylist(), strict=True)
        ]
        if explain:
            evidence += _evidence(part, model)
    table = pa.table(columns, schema=_BASE_SCHEMA)
    if explain:
        table = table.append_column("evidence", pa.array(evidence))
    order = pc.sort_indices(table, sort_keys=[("left", "ascending"), ("right", "ascending")])
    return table.take(order)


def _evidence(part: pa.Table, model: _Model) -> list[list[dict[str, Any]]]:
    """Per pair, per comparison: the level's label, its weight, and the two raw values."""
    per_comparison = []
    for comparison in model.comparisons:
        if f"gamma_{comparison.name}" not in part.column_names:
            continue  # a comparison Splink left out (no usable parameters): no evidence from it
        labels = {-1: LABEL_MISSING}
        labels.update({i + 1: lv.label for i, lv in enumerate(comparison.levels)})
        labels[0] = LABEL_DIFFERENT
        # Splink numbers levels from the top: the highest gamma is the first non-null level.
        top = len(comparison.levels)
        gamma = part.column(f"gamma_{comparison.name}").to_pylist()
        weights = _weights(part, comparison.name)
        raw = _RAW_FOR[comparison.name]
        lefts = part.column(f"{raw}_l").to_pylist()
        rights = part.column(f"{raw}_r").to_pylist()
        per_comparison.append(
            [
                {
                    "name": comparison.name,
                    "label": labels[top - g + 1] if g > 0 else labels[g],
                    "weight": round(w, 3),
                    "left": left,
                    "right": right,
                }
                for g, w, left, right in zip(gamma, weights, lefts, rights, strict=True)
            ]
        )
    return (
        [list(row) for row in zip(*per_comparison, strict=True)]
        if per_comparison
        else [[] for _ in range(part.num_rows)]
    )


def _weights(part: pa.Table, name: str) -> list[float]:
    """The comparison's match weight, term-frequency adjustment included."""
    base = part.column(f"mw_{name}").to_pylist()
    tf_name = f"mw_tf_adj_{name}"
    if tf_name in part.column_names:
        adj = part.column(tf_name).to_pylist()
        return [float(b or 0.0) + float(a or 0.0) for b, a in zip(base, adj, strict=True)]
    return [float(b or 0.0) for b in base]


def find_pairs(
    records: pa.Table,
    *,
    min_probability: float = 0.5,
    focus_ids: Collection[str] | None = None,
    seed: int = 1,
) -> list[Pair]:
    """Pairs of records that are the same person, at or above ``min_probability``.

    ``records``: column ``id`` plus any :data:`ROLES` columns (strings; birth_date ISO).
    Same normalised phone, email or id number is a match by rule (probability 1.0); other pairs
    are scored by the Fellegi–Sunter model. With ``focus_ids`` only pairs with a side among them
    are returned, while the model still learns from all records.
    """
    result = match(records, min_probability=min_probability, focus_ids=focus_ids, seed=seed)
    return list(pairs_from_table(result.pairs))


def pairs_from_table(table: pa.Table) -> Iterator[Pair]:
    """:class:`Pair` objects from the table :func:`match` returns."""
    has_evidence = "evidence" in table.column_names
    rows = table.to_pylist()
    for row in rows:
        evidence = (
            {
                item["name"]: {k: item[k] for k in ("label", "weight", "left", "right")}
                for item in row["evidence"]
            }
            if has_evidence
            else {}
        )
        yield Pair(
            left=row["left"],
            right=row["right"],
            probability=float(row["probability"]),
            match_weight=float(row["match_weight"] or 0.0),
            rule=row["rule"],
            evidence=evidence,
        )


def clusters(
    ids: Iterable[str], pairs: Iterable[Pair], *, min_probability: float
) -> dict[str, str]:
    """Connected components over pairs at or above ``min_probability``: id → smallest id in it."""
    edges = ((p.left, p.right) for p in pairs if p.probability >= min_probability)
    return cluster_edges(ids, edges)


def cluster_edges(ids: Iterable[str], edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Connected components of ``edges`` over ``ids``: id → the smallest id of its component."""
    parent: dict[str, str] = {i: i for i in ids}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]  # path halving keeps the trees flat
            node = parent[node]
        return node

    for left, right in edges:
        parent.setdefault(left, left)
        parent.setdefault(right, right)
        a, b = root(left), root(right)
        if a != b:
            # The smaller id becomes the root, so each root is its component's smallest id.
            parent[max(a, b)] = min(a, b)
    return {node: root(node) for node in parent}


def match_weight_to_probability(weight: float) -> float:
    """``2**w / (1 + 2**w)``: a log2 Bayes factor (prior included) as a probability."""
    return 1.0 / (1.0 + math.pow(2.0, -weight))
