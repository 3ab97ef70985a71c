"""Splitting a free-text mainland-China address into province, city and district.

The divisions come from ``data/cn_divisions.tsv`` (built by ``tools/cn_divisions.py``). The text
is read from its start: a province, then a city, then a district, each optional, each matched by
its full name or a common short form ("广东", "深圳", "浦东"), the longest match first. What is
left is the street part. Missing levels are inferred when the match is unambiguous ("深圳市南山区"
gives 广东省); a district name shared by several cities keeps only what they agree on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import NamedTuple

from clientops.core.normalise import clean_text

PROVINCE, CITY, DISTRICT = 0, 1, 2

_PROVINCE_SUFFIXES = (
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "省",
    "市",
)
_CITY_SUFFIXES = ("自治州", "地区", "盟", "市")
_DISTRICT_SUFFIXES = ("自治县", "自治旗", "新区", "林区", "特区", "区", "县", "市", "旗")
# The 55 minority peoples, to shorten "延边朝鲜族自治州" to "延边".
_PEOPLES = (
    "蒙古",
    "回",
    "藏",
    "维吾尔",
    "苗",
    "彝",
    "壮",
    "布依",
    "朝鲜",
    "满",
    "侗",
    "瑶",
    "白",
    "土家",
    "哈尼",
    "哈萨克",
    "傣",
    "黎",
    "傈僳",
    "佤",
    "畲",
    "高山",
    "拉祜",
    "水",
    "东乡",
    "纳西",
    "景颇",
    "柯尔克孜",
    "土",
    "达斡尔",
    "仫佬",
    "羌",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "塔吉克",
    "怒",
    "乌孜别克",
    "俄罗斯",
    "鄂温克",
    "德昂",
    "保安",
    "裕固",
    "京",
    "塔塔尔",
    "独龙",
    "鄂伦春",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
)
# A short form followed by one of these is a street name ("湖南路", "中山路"), not a division,
# unless a division of the next level follows it ("北京门头沟区").
_STREET_STARTS = (
    "路",
    "街",
    "道",
    "巷",
    "弄",
    "门",
    "桥",
    "村",
    "镇",
    "乡",
    "大道",
    "大街",
    "大厦",
)
_SEPARATORS = " ,、/-;:"
_COUNTRY = ("中华人民共和国", "中国大陆", "中国")
_POSTCODE = re.compile(r"(?:邮编|邮政编码)?:?\s*(?<!\d)\d{6}(?![\d号室栋楼层幢座])")


@dataclass(frozen=True)
class CnAddress:
    """An address split into its administrative parts and the rest."""

    province: str | None
    city: str | None
    district: str | None
    rest: str


class _Division(NamedTuple):
    level: int
    province: str
    city: str | None
    district: str | None
    short: bool


class _Index(NamedTuple):
    keys: dict[str, list[_Division]]
    lengths: dict[str, tuple[int, ...]]  # first character -> key lengths, longest first
    provinces: frozenset[str]
    municipalities: frozenset[str]


def _strip_peoples(name: str) -> str:
    """``"延边朝鲜族"`` -> ``"延边"``: the peoples named at the end of an autonomous division."""
    changed = True
    while changed:
        changed = False
        for people in _PEOPLES:
            for tail in (people + "族", people if len(people) >= 2 else None):
                if tail and name.endswith(tail) and len(name) - len(tail) >= 2:
                    name = name[: -len(tail)]
                    changed = True
                    break
            if changed:
                break
    return name


def _short_forms(name: str, suffixes: tuple[str, ...]) -> list[str]:
    """The short forms of a division name: without its suffix (and peoples), at least 2 long."""
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            if suffix.startswith("自治"):
                stem = _strip_peoples(stem)
            forms = [stem] if len(stem) >= 2 else []
            if suffix == "自治州" and forms:
                forms.append(stem + "州")  # "延边州", "恩施州"
            return [f for f in forms if f != name]
    return []


@lru_cache(maxsize=1)
def _index() -> _Index:
    """The lookup tables, built once from the TSV."""
    data = files("clientops.core") / "data" / "cn_divisions.tsv"
    divisions: list[_Division] = []
    for line in data.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#") or line.startswith("code\t"):
            continue
        _code, province, city, district = line.split("\t")
        level = DISTRICT if district else CITY if city else PROVINCE
        divisions.append(_Division(level, province, city or None, district or None, False))
    provinces = frozenset(d.province for d in divisions)
    municipalities = frozenset(
        d.province for d in divisions if d.level == CITY and d.city == d.province
    )
    keys: dict[str, list[_Division]] = {}
    shorts: dict[tuple[int, str], list[_Division]] = {}
    for d in divisions:
        if d.level == CITY and d.province in municipalities:
            continue  # the municipality's city is implied by its province
        name = d.district or d.city or d.province
        keys.setdefault(name, []).append(d)
        suffixes = (_PROVINCE_SUFFIXES, _CITY_SUFFIXES, _DISTRICT_SUFFIXES)[d.level]
        for form in _short_forms(name, suffixes):
            shorts.setdefault((d.level, form), []).append(d._replace(short=True))
    for (level, form), found in shorts.items():
        # Provinces and cities: only short forms unique at their level. Districts: checked
        # against the province or city already read, when the address is split.
        if level == DISTRICT or len(found) == 1:
            keys.setdefault(form, []).extend(found)
    lengths: dict[str, set[int]] = {}
    for key in keys:
        lengths.setdefault(key[0], set()).add(len(key))
    by_first = {first: tuple(sorted(ns, reverse=True)) for first, ns in lengths.items()}
    return _Index(keys, by_first, provinces, municipalities)


class _Match(NamedTuple):
    end: int
    province: str | None
    city: str | None
    district: str | None
    level: int


def _agreed(values: set[str | None]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None


def _match_at(
    text: str, pos: int, province: str | None, city: str | None, level: int, index: _Index
) -> _Match | None:
    """The longest division at ``pos`` below ``level`` and inside the province/city read."""
    scoped = province is not None or city is not None
    left = len(text) - pos
    for length in index.lengths.get(text[pos], ()) if left > 0 else ():
        found = index.keys.get(text[pos : pos + length]) if 2 <= length <= left else None
        if not found:
            continue
        fits = [
            d
            for d in found
            if d.level > level
            and (province is None or d.province == province)
            and (city is None or d.city == city)
            and (scoped or not d.short or d.level < DISTRICT)
            and (scoped or d.level < DISTRICT or length >= 3)
        ]
        if not fits:
            continue
        top = min(d.level for d in fits)
        fits = [d for d in fits if d.level == top]
        names = {d.district or d.city or d.province for d in fits}
        if len(names) > 1:
            continue  # a short form of several different divisions
        end = pos + length
        if fits[0].short and text.startswith(_STREET_STARTS, end):
            p = _agreed({d.province for d in fits})
            c = _agreed({d.city for d in fits})
            if top == DISTRICT or _match_at(text, end, p, c, top, index) is None:
                continue
        return _Match(
            end,
            _agreed({d.province for d in fits}),
            _agreed({d.city for d in fits}),
            _agreed({d.district for d in fits}),
            top,
        )
    return None


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SEPARATORS:
        pos += 1
    return pos


def split_address(text: str) -> CnAddress:
    """Split a free-text address into province, city, district and the rest.

    The text is cleaned with :func:`clientops.core.normalise.clean_text`. A leading "中国" or
    "中华人民共和国" and a 6-digit postcode are dropped from the rest. When no division is
    recognised the result holds only the cleaned text, unchanged, as ``rest``.
    """
    cleaned = clean_text(text)
    index = _index()
    body = _POSTCODE.sub(" ", cleaned).strip(_SEPARATORS)
    for country in _COUNTRY:
        if body.startswith(country):
            body = body[len(country) :]
            break
    pos = _skip(body, 0)
    province: str | None = None
    city: str | None = None
    district: str | None = None
    level = -1
    while level < DISTRICT:
        found = _match_at(body, pos, province, city, level, index)
        if found is None:
            break
        pos, level = _skip(body, found.end), found.level
        province = province or found.province
        city = city or found.city
        district = found.district
        if level == PROVINCE and province in index.municipalities:
            city = province
    if level < 0:
        return CnAddress(None, None, None, cleaned)
    rest = " ".join(body[pos:].split()).strip(_SEPARATORS)
    return CnAddress(province, city, district, rest)


def province_names() -> frozenset[str]:
    """The provincial-level divisions in the data file (mainland, Hong Kong, Macau)."""
    return _index().provinces
