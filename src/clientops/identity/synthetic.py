"""A synthetic customer file with known truth, for tests and benchmarks of identity resolution.

People are drawn from Faker's zh_CN and en_US data (surnames and given names with their
frequencies, provinces, cities, districts, streets, phone prefixes, email domains). Then
duplicates are added, corrupted the way real systems corrupt them: typos (including homophones
typed with a pinyin IME), pinyin instead of hanzi, given and family name swapped, traditional
characters, phone format variants (+86, 0086, spaces, dashes, full-width digits), missing fields,
old addresses, changed phones and emails. Some people share a household address with another.

Deterministic for a given seed (and Faker version). Faker is a test dependency; it is imported
only when data is generated.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from clientops.identity.engine import hanzi_pinyin, surname_pinyin

FIELDS = (
    "id",
    "entity_id",
    "name",
    "phone",
    "email",
    "address",
    "postcode",
    "city",
    "birth_date",
    "id_number",
)
ROLE_OF_FIELD = {f: f for f in FIELDS[2:]}
ZH_SHARE = 0.7
HOUSEHOLD_SHARE = 0.05

_ZH_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "sohu.com", "foxmail.com", "gmail.com")
_EN_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com")
_US_AREAS = (212, 213, 312, 415, 617, 646, 718, 202, 206, 303, 305, 404, 503, 512, 702, 713)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_FULLWIDTH = str.maketrans("0123456789+-", "０１２３４５６７８９＋－")
_ACCENTS = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü", "n": "ñ", "c": "ç"}


@dataclass
class Person:
    """One synthetic record; ``entity_id`` is the truth (records of one person share it)."""

    entity_id: int
    zh: bool
    family: str
    given: str
    name: str
    phone: str | None
    email: str | None
    address: str | None
    postcode: str | None
    city: str | None
    birth_date: str | None
    id_number: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self, record_id: int) -> list[Any]:
        """The record as a CSV row in :data:`FIELDS` order."""
        return [
            str(record_id),
            str(self.entity_id),
            self.name,
            self.phone,
            self.email,
            self.address,
            self.postcode,
            self.city,
            self.birth_date,
            self.id_number,
        ]


@dataclass(frozen=True)
class Pools:
    """What people are drawn from: Faker's locale data."""

    zh_surnames: tuple[str, ...]
    zh_surname_weights: tuple[float, ...]
    zh_given: tuple[str, ...]
    zh_given_chars: tuple[str, ...]
    provinces: tuple[str, ...]
    zh_cities: tuple[str, ...]
    districts: tuple[str, ...]
    zh_prefixes: tuple[str, ...]
    en_first: tuple[str, ...]
    en_first_weights: tuple[float, ...]
    en_last: tuple[str, ...]
    en_last_weights: tuple[float, ...]
    en_cities: tuple[str, ...]
    en_streets: tuple[str, ...]
    homophones: dict[str, tuple[str, ...]]


@lru_cache(maxsize=4)
def pools(seed: int = 1) -> Pools:
    """Faker's zh_CN and en_US data, drawn once per seed."""
    from faker import Faker

    zh, en = Faker("zh_CN"), Faker("en_US")
    zh.seed_instance(seed)
    en.seed_instance(seed)
    person = zh.provider("faker.providers.person")
    address = zh.provider("faker.providers.address")
    en_person = en.provider("faker.providers.person")
    en_address = en.provider("faker.providers.address")
    given = tuple(person.first_names)
    chars = tuple(sorted({c for g in given for c in g}))
    en_first = {**en_person.first_names_male, **en_person.first_names_female}
    return Pools(
        zh_surnames=tuple(person.last_names),
        zh_surname_weights=tuple(person.last_names.values()),
        zh_given=given,
        zh_given_chars=chars,
        provinces=tuple(address.provinces),
        zh_cities=tuple(address.cities),
        districts=tuple(address.districts),
        zh_prefixes=tuple(
            str(p) for p in zh.provider("faker.providers.phone_number").phonenumber_prefixes
        ),
        en_first=tuple(en_first),
        en_first_weights=tuple(en_first.values()),
        en_last=tuple(en_person.last_names),
        en_last_weights=tuple(en_person.last_names.values()),
        en_cities=tuple(sorted({en.city() for _ in range(3000)})),
        en_streets=tuple(en_address.street_suffixes),
        homophones=_homophones(chars),
    )


def _homophones(chars: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Characters a pinyin IME offers for the same syllable, among common given-name characters."""
    extra = "玮炜纬卫薇维娟鹃涓静敬晶菁明铭鸣民敏芳方坊丽莉俐力华桦骅军君钧峰锋风丰宇雨语玉"
    by_sound: dict[str, list[str]] = {}
    for char in sorted(set(chars) | set(extra)):
        by_sound.setdefault(hanzi_pinyin(char), []).append(char)
    return {
        c: tuple(o for o in group if o != c)
        for group in by_sound.values()
        for c in group
        if len(group) > 1
    }


class Generator:
    """Draws people and their corrupted duplicates from one seeded random stream."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.pools = pools(seed)
        self.households: list[Person] = []

    # --- people

    def person(self, entity_id: int) -> Person:
        """A new person, Chinese or English-speaking, with some fields missing."""
        rng = self.rng
        zh = rng.random() < ZH_SHARE
        family, given = self._zh_name() if zh else self._en_name()
        name = family + given if zh else f"{given} {family}"
        birth = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
        person = Person(
            entity_id=entity_id,
            zh=zh,
            family=family,
            given=given,
            name=name,
            phone=self._phone(zh) if rng.random() < 0.9 else None,
            email=self._email(zh, family, given) if rng.random() < 0.6 else None,
            address=None,
            postcode=None,
            city=None,
            birth_date=birth.isoformat() if rng.random() < 0.7 else None,
            id_number=self._id_number(birth) if zh and rng.random() < 0.35 else None,
        )
        self._place(person)
        return person

    def _zh_name(self) -> tuple[str, str]:
        rng, p = self.rng, self.pools
        family = rng.choices(p.zh_surnames, p.zh_surname_weights)[0]
        # Faker's given names are mostly one character; most people born since 1980 have two.
        if rng.random() < 0.4:
            return family, rng.choice(p.zh_given)
        return family, rng.choice(p.zh_given_chars) + rng.choice(p.zh_given_chars)

    def _en_name(self) -> tuple[str, str]:
        rng, p = self.rng, self.pools
        return (
            rng.choices(p.en_last, p.en_last_weights)[0],
            rng.choices(p.en_first, p.en_first_weights)[0],
        )

    def _phone(self, zh: bool) -> str:
        rng = self.rng
        if zh:
            return rng.choice(self.pools.zh_prefixes) + f"{rng.randrange(10**8):08d}"
        exchange = rng.randrange(200, 1000)
        while exchange == 555:
            exchange = rng.randrange(200, 1000)
        return f"+1 {rng.choice(_US_AREAS)}-{exchange}-{rng.randrange(10**4):04d}"

    def _email(self, zh: bool, family: str, given: str) -> str:
        rng = self.rng
        if zh:
            base = (hanzi_pinyin(given) + surname_pinyin(family)) if rng.random() < 0.5 else ""
            local = base + str(rng.randrange(10**4, 10**9))
            domain = rng.choice(_ZH_DOMAINS)
        else:
            sep = rng.choice(("", ".", "_"))
            local = f"{given.lower()}{sep}{family.lower()}{rng.randrange(1, 10**4)}"
            domain = rng.choice(_EN_DOMAINS)
        return f"{local}@{domain}"

    def _id_number(self, birth: date) -> str:
        rng = self.rng
        body = f"{rng.randrange(110000, 660000):06d}{birth:%Y%m%d}{rng.randrange(1000):03d}"
        check = _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
        return body + check

    def _place(self, person: Person) -> None:
        rng = self.rng
        if self.households and rng.random() < HOUSEHOLD_SHARE:
            # Someone living with an earlier person: same address, often the same surname.
            other = rng.choice(self.households)
            if other.zh == person.zh:
                if rng.random() < 0.5:
                    person.family = other.family
                    person.name = (
                        person.family + person.given
                        if person.zh
                        else f"{person.given} {person.family}"
                    )
                person.address, person.postcode, person.city = (
                    other.address,
                    other.postcode,
                    other.city,
                )
                return
        if rng.random() < 0.85:
            person.address, person.postcode, person.city = self._address(person.zh)
            if rng.random() < 0.1:
                person.postcode = None
        elif rng.random() < 0.6:
            person.city = self._address(person.zh)[2]
        if len(self.households) < 50_000:
            self.households.append(person)
        else:
            self.households[rng.randrange(len(self.households))] = person

    def _address(self, zh: bool) -> tuple[str, str, str]:
        rng, p = self.rng, self.pools
        if zh:
            city = rng.choice(p.zh_cities) + "市"
            street = rng.choice(p.zh_surnames) + rng.choice(("路", "街", "大道"))
            address = (
                f"{rng.choice(p.provinces)}{city}{rng.choice(p.districts)}区{street}"
                f"{rng.randrange(1, 1000)}号"
            )
            if rng.random() < 0.5:
                address += f"{rng.randrange(1, 30)}栋{rng.randrange(1, 30)}0{rng.randrange(1, 9)}室"
            return address, f"{rng.randrange(100000, 860000)}", city
        city = rng.choice(p.en_cities)
        street = f"{rng.randrange(1, 10000)} {rng.choices(p.en_last, p.en_last_weights)[0]} "
        return street + rng.choice(p.en_streets), f"{rng.randrange(10000, 99999)}", city

    # --- duplicates

    def duplicate(self, original: Person) -> Person:
        """A second record of the same person, corrupted field by field."""
        dup = replace(original, extra={})
        dup.name = self._corrupt_name(original)
        dup.phone = self._corrupt_phone(original)
        dup.email = self._corrupt_email(original)
        self._corrupt_address(dup, original)
        dup.birth_date = self._corrupt_birth_date(original.birth_date)
        if original.id_number and self.rng.random() < 0.5:
            dup.id_number = None
        return dup

    def _corrupt_name(self, p: Person) -> str:
        roll = self.rng.random()
        if p.zh:
            if roll < 0.35:
                return p.name
            if roll < 0.50:
                return _traditional(p.name)
            if roll < 0.70:
                return self._pinyin_name(p)
            if roll < 0.82:
                return p.family + self._homophone_typo(p.given)
            if roll < 0.88:
                return p.family + self._char_typo(p.given)
            return self._spacing(p.name)
        if roll < 0.50:
            return p.name
        if roll < 0.70:
            return (
                f"{p.given} {self._letter_typo(p.family)}"
                if self.rng.random() < 0.6
                else (f"{self._letter_typo(p.given)} {p.family}")
            )
        if roll < 0.85:
            return f"{p.family}, {p.given}" if self.rng.random() < 0.5 else f"{p.family} {p.given}"
        if roll < 0.93:
            return p.name.upper()
        return self._accented(p.name)

    def _pinyin_name(self, p: Person) -> str:
        family = surname_pinyin(p.family).capitalize()
        given = hanzi_pinyin(p.given).capitalize()
        style = self.rng.random()
        if style < 0.55:
            return f"{family} {given}"
        if style < 0.85:
            return f"{given} {family}"
        return f"{family.upper()} {given}"

    def _homophone_typo(self, given: str) -> str:
        positions = [i for i, c in enumerate(given) if c in self.pools.homophones]
        if not positions:
            return self._char_typo(given)
        i = self.rng.choice(positions)
        return given[:i] + self.rng.choice(self.pools.homophones[given[i]]) + given[i + 1 :]

    def _char_typo(self, given: str) -> str:
        i = self.rng.randrange(len(given))
        return given[:i] + self.rng.choice(self.pools.zh_given_chars) + given[i + 1 :]

    def _letter_typo(self, word: str) -> str:
        rng = self.rng
        if len(word) < 3:
            return word
        i = rng.randrange(1, len(word) - 1)
        kind = rng.randrange(4)
        letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
        if kind == 0:
            return word[:i] + word[i + 1 :]
        if kind == 1:
            return word[:i] + letter + word[i:]
        if kind == 2:
            return word[:i] + letter + word[i + 1 :]
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]

    def _spacing(self, name: str) -> str:
        if self.rng.random() < 0.5:
            return " ".join(name)
        return f" {name}\u3000"

    def _accented(self, name: str) -> str:
        chars = list(name)
        spots = [i for i, c in enumerate(chars) if c.lower() in _ACCENTS]
        if spots:
            i = self.rng.choice(spots)
            chars[i] = _ACCENTS[chars[i].lower()]
        return "".join(chars)

    def _corrupt_phone(self, p: Person) -> str | None:
        rng = self.rng
        if not p.phone:
            return self._phone(p.zh) if rng.random() < 0.3 else None
        roll = rng.random()
        if roll < 0.35:
            return p.phone
        if roll < 0.70:
            return self._phone_variant(p.phone)
        if roll < 0.85:
            return None
        if roll < 0.95:
            return self._phone(p.zh)
        digits = list(p.phone)
        spots = [i for i, c in enumerate(digits) if c.isdigit()][-8:]
        i = rng.choice(spots)
        digits[i] = str((int(digits[i]) + rng.randrange(1, 10)) % 10)
        return "".join(digits)

    def _phone_variant(self, phone: str) -> str:
        rng = self.rng
        if phone.startswith("+1"):
            digits = "".join(c for c in phone if c.isdigit())[1:]
            return rng.choice(
                (
                    f"+1{digits}",
                    f"001 {digits[:3]} {digits[3:6]} {digits[6:]}",
                    f"+1 ({digits[:3]}) {digits[3:6]}-{digits[6:]}",
                )
            )
        n = phone
        return rng.choice(
            (
                f"+86 {n}",
                f"+86-{n[:3]}-{n[3:7]}-{n[7:]}",
                f"0086{n}",
                f"{n[:3]} {n[3:7]} {n[7:]}",
                f"{n[:3]}-{n[3:7]}-{n[7:]}",
                n.translate(_FULLWIDTH),
                f"+86{n}",
            )
        )

    def _corrupt_email(self, p: Person) -> str | None:
        rng = self.rng
        if not p.email:
            return self._email(p.zh, p.family, p.given) if rng.random() < 0.15 else None
        roll = rng.random()
        if roll < 0.45:
            return p.email
        if roll < 0.50:
            return p.email.upper()
        if roll < 0.75:
            return None
        if roll < 0.90:
            return self._email(p.zh, p.family, p.given)
        local, domain = p.email.split("@")
        return self._letter_typo(local) + "@" + domain

    def _corrupt_address(self, dup: Person, p: Person) -> None:
        rng = self.rng
        roll = rng.random()
        if not p.address or roll < 0.45:
            return
        if roll < 0.55:
            dup.address = self._address_variant(p.address, p.zh)
        elif roll < 0.80:
            # An old address: moved house, often to another city.
            dup.address, dup.postcode, new_city = self._address(p.zh)
            if rng.random() < 0.6:
                dup.city = new_city
        else:
            dup.address = dup.postcode = None
            if rng.random() < 0.5:
                dup.city = None

    def _address_variant(self, address: str, zh: bool) -> str:
        rng = self.rng
        if not zh:
            return address.upper() if rng.random() < 0.5 else address.replace(" ", "  ", 1)
        choice = rng.randrange(3)
        if choice == 0:
            for province in self.pools.provinces:
                if address.startswith(province):
                    return address[len(province) :]
        if choice == 1:
            return _traditional(address)
        return address.translate(_FULLWIDTH)

    def _corrupt_birth_date(self, birth: str | None) -> str | None:
        rng = self.rng
        if not birth:
            return None
        roll = rng.random()
        if roll < 0.70:
            return birth
        if roll < 0.95:
            return None
        year, month, day = birth.split("-")
        if int(day) <= 12 and day != month:
            return f"{year}-{day}-{month}"
        return f"{year}-{month}-{(int(day) % 28) + 1:02d}"


@lru_cache(maxsize=1)
def _s2t() -> Any:
    import opencc

    return opencc.OpenCC("s2t")


def _traditional(text: str) -> str:
    return str(_s2t().convert(text))


def people(size: int, *, dup_rate: float = 0.2, seed: int = 1) -> Iterator[list[Any]]:
    """``size`` rows (:data:`FIELDS`), ``dup_rate`` of them duplicates of another row's person.

    Rows come in a shuffled order; ids are 1..size; ``entity_id`` is the truth.
    """
    generator = Generator(seed)
    originals = size - round(size * dup_rate)
    persons = [generator.person(i + 1) for i in range(originals)]
    extra = [generator.duplicate(generator.rng.choice(persons)) for _ in range(size - originals)]
    rows = persons + extra
    generator.rng.shuffle(rows)
    for index, person in enumerate(rows, start=1):
        yield person.row(index)


def table(size: int, *, dup_rate: float = 0.2, seed: int = 1) -> pa.Table:
    """:func:`people` as an Arrow table (all columns strings)."""
    rows = list(people(size, dup_rate=dup_rate, seed=seed))
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in FIELDS]
    return pa.table(
        {name: pa.array(list(col), pa.string()) for name, col in zip(FIELDS, columns, strict=True)}
    )


def write_csv(path: Path, size: int, *, dup_rate: float = 0.2, seed: int = 1) -> Path:
    """:func:`people` as a UTF-8 CSV file with a header row."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        writer.writerows(people(size, dup_rate=dup_rate, seed=seed))
    return path


def true_pairs(entity_ids: list[str], ids: list[str]) -> set[tuple[str, str]]:
    """Every pair of record ids that belong to the same entity (left < right)."""
    groups: dict[str, list[str]] = {}
    for record, entity in zip(ids, entity_ids, strict=True):
        groups.setdefault(entity, []).append(record)
    return {
        (min(a, b), max(a, b))
        for members in groups.values()
        for i, a in enumerate(members)
        for b in members[i + 1 :]
    }


@dataclass(frozen=True)
class Scores:
    """Pairwise precision and recall of a clustering against the truth."""

    true_pairs: int
    found_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        """Share of the pairs put together that truly are one person."""
        return self.correct_pairs / self.found_pairs if self.found_pairs else 1.0

    @property
    def recall(self) -> float:
        """Share of the true pairs that were put together."""
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0


def score_clusters(truth: dict[str, str], found: dict[str, str]) -> Scores:
    """Compare two clusterings of the same ids (id → entity, id → cluster), pair by pair."""

    def pairs(sizes: dict[Any, int]) -> int:
        return sum(n * (n - 1) // 2 for n in sizes.values())

    by_entity: dict[str, int] = {}
    by_cluster: dict[str, int] = {}
    by_both: dict[tuple[str, str], int] = {}
    for record, entity in truth.items():
        cluster = found.get(record, record)
        by_entity[entity] = by_entity.get(entity, 0) + 1
        by_cluster[cluster] = by_cluster.get(cluster, 0) + 1
        by_both[(entity, cluster)] = by_both.get((entity, cluster), 0) + 1
    return Scores(pairs(by_entity), pairs(by_cluster), pairs(by_both))
