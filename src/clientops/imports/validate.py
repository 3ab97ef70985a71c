"""Checking and normalising one imported row: every cell of a mapped column, then the row.

A validator is built once per file from its headers and mapping, then called for each row with
the cleaned cells; it returns the values to write (JSON-ready: dates as ISO text, amounts as
decimal text) and the row's errors as ``(column header, code, detail)``. Nothing here touches the
database: what validation needs from it (users, teams, custom fields) is passed in as a
:class:`Lookup`.

Speed matters (a million rows in under a minute): phone numbers and e-mail addresses take a
fast path for the common shapes and fall back to the full parsers, cached; Chinese addresses are
split on the part before the first digit (a division name never holds a digit), cached.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from clientops.core import normalise
from clientops.core.cnaddress import split_address
from clientops.core.tabular import excel_damage
from clientops.imports.fields import CUSTOMER_KEY_FIELDS, FIELDS, ID_LIKE, LINE_FIELDS

RowErrors = list[tuple[str, str, str]]
"""A row's problems: (column header, error code, detail such as the row of a duplicate)."""

LIFECYCLE = {
    "potential": "potential", "潜在": "potential", "潜在客户": "potential", "lead": "potential",
    "new": "new", "新": "new", "新客户": "new",
    "growing": "growing", "成长": "growing", "成长期": "growing",
    "mature": "mature", "成熟": "mature", "成熟期": "mature",
    "declining": "declining", "衰退": "declining", "衰退期": "declining",
    "churned": "churned", "流失": "churned", "已流失": "churned", "lost": "churned",
}  # fmt: skip
KINDS = {
    "person": "person", "individual": "person", "个人": "person", "个人客户": "person",
    "自然人": "person", "contact": "person", "联系人": "person",
    "company": "company", "business": "company", "organisation": "company",
    "organization": "company", "account": "company", "公司": "company", "企业": "company",
    "企业客户": "company", "单位": "company", "机构": "company",
}  # fmt: skip
ACTIVITY_KINDS = {
    "note": "note", "备注": "note", "笔记": "note", "记录": "note",
    "call": "call", "phone": "call", "电话": "call", "通话": "call", "来电": "call",
    "去电": "call",
    "meeting": "meeting", "visit": "meeting", "会议": "meeting", "拜访": "meeting",
    "面谈": "meeting", "见面": "meeting",
    "email": "email", "e-mail": "email", "mail": "email", "邮件": "email",
}  # fmt: skip
ORDER_STATUSES = {
    "paid": "paid", "已付款": "paid", "已支付": "paid", "交易成功": "paid", "已完成": "paid",
    "完成": "paid", "已发货": "paid", "completed": "paid", "complete": "paid",
    "refunded": "refunded", "已退款": "refunded", "退款": "refunded", "退款成功": "refunded",
    "cancelled": "cancelled", "canceled": "cancelled", "已取消": "cancelled",
    "交易关闭": "cancelled", "取消": "cancelled",
    "pending": "pending", "待付款": "pending", "未付款": "pending", "等待付款": "pending",
}  # fmt: skip
CURRENCY_ALIASES = {
    "¥": "CNY", "￥": "CNY", "元": "CNY", "人民币": "CNY", "rmb": "CNY",
    "$": "USD", "美元": "USD", "us$": "USD", "€": "EUR", "欧元": "EUR", "£": "GBP",
    "英镑": "GBP", "港币": "HKD", "港元": "HKD", "hk$": "HKD", "日元": "JPY",
}  # fmt: skip
TEXT_LIMITS = {
    "name": 200, "title": 120, "website": 200, "industry": 100, "source": 60, "notes": 10_000,
    "address": 500, "province": 40, "city": 100, "district": 60, "account": 200,
    "external_id": 120, "customer_external_id": 120, "number": 40, "channel": 40,
    "item_sku": 60, "item_name": 200, "subject": 200, "body": 10_000,
}  # fmt: skip
MAX_AMOUNT = Decimal("1000000000000")
_MONEY_NOISE = re.compile(r"[¥￥$€£,\s]|元|rmb|cny|usd", re.IGNORECASE)
_CURRENCY = re.compile(r"[A-Z]{3}")
_TAG_SPLIT = re.compile(r"[,，;；|、/]")
_FORMULA = re.compile(r"=|[+\-@].*[^\d\s().,+\-]")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_TIME = re.compile(r"(.+?)[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?")
_SERIAL_TIME = re.compile(r"\d{1,7}\.\d+")
_DIGIT = re.compile(r"\d")
_MANGLED = re.compile(r"[eE.]")
_ISO_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_EMAIL_FAST = re.compile(
    r"[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24})"
)
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def _cn_mobile_pattern() -> re.Pattern[str]:
    """libphonenumber's own pattern of valid mainland mobile numbers."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    pattern = metadata.mobile.national_number_pattern if metadata and metadata.mobile else None
    return re.compile(pattern or r"1[3-9]\d{9}")


_CN_MOBILE = _cn_mobile_pattern()
_PHONE_PUNCT = str.maketrans("", "", " -()")


def is_formula(value: str) -> bool:
    """True when a spreadsheet would run the cell as a formula (``=...``, ``+cmd|...``)."""
    return value[0] in "=+-@" and _FORMULA.match(value) is not None


# --- values -------------------------------------------------------------------------------


@lru_cache(maxsize=65_536)
def _slow_phone(value: str, region: str) -> str:
    return normalise.parse_phone(value, region=region)


def parse_phone(value: str, region: str) -> str:
    """E.164, as ``normalise.parse_phone``; mainland mobiles skip the full parser."""
    digits = value.translate(_PHONE_PUNCT)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif region != "CN":
        return _slow_phone(value, region)
    if len(digits) == 11 and digits[0] == "1" and _CN_MOBILE.fullmatch(digits):
        return "+86" + digits
    return _slow_phone(value, region)


@lru_cache(maxsize=65_536)
def _slow_email(value: str) -> str:
    return normalise.parse_email(value)


def parse_email(value: str) -> str:
    """A validated, lower-cased address, as ``normalise.parse_email``; plain ASCII addresses
    skip the full validator."""
    match = _EMAIL_FAST.fullmatch(value)
    if (
        match
        and match[1].lower() not in _SPECIAL_TLDS
        and len(value) <= 254
        and value.index("@") <= 64
    ):
        return value.lower()
    return _slow_email(value)


@lru_cache(maxsize=131_072)
def _divisions(head: str) -> tuple[str | None, str | None, str | None]:
    found = split_address(head)
    return found.province, found.city, found.district


def divisions(address: str) -> tuple[str | None, str | None, str | None]:
    """Province, city and district of a Chinese address (``split_address``), cached on the part
    before the first digit: no division name holds a digit, and the split stops at the district,
    so once a district is found there the rest cannot change the answer. Without a district
    (a postcode in front, or one between the divisions) the whole address is split."""
    first = _DIGIT.search(address)
    if first is not None and first.start() >= 2:
        found = _divisions(address[: first.start()])
        if found[2] is not None:
            return found
    return _divisions(address)


def parse_money(value: str) -> Decimal:
    """An amount written as ``1,234.50``, ``¥1234.5`` or ``1234.50元``, to the cent."""
    text = _MONEY_NOISE.sub("", value)
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError("invalid_amount") from exc
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise ValueError("invalid_amount")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("invalid_amount")  # fractions of a cent: a unit or column mistake
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def parse_quantity(value: str) -> Decimal:
    """A positive quantity with at most three decimals."""
    try:
        quantity = Decimal(value.replace(",", ""))
    except InvalidOperation as exc:
        raise ValueError("invalid_quantity") from exc
    if not quantity.is_finite() or quantity <= 0 or quantity >= MAX_AMOUNT:
        raise ValueError("invalid_quantity")
    if quantity != quantity.quantize(Decimal("0.001")):
        raise ValueError("invalid_quantity")
    return quantity.quantize(Decimal("0.001"))


def parse_currency(value: str) -> str:
    """An ISO 4217 code (``CNY``), also from ``¥``, ``人民币``, ``RMB``, ``美元``."""
    code = CURRENCY_ALIASES.get(value.casefold(), value.upper())
    if not _CURRENCY.fullmatch(code):
        raise ValueError("invalid_currency")
    return code


def parse_datetime(value: str, zone: ZoneInfo) -> datetime:
    """A moment from ``2024-01-05 13:45[:00]``, ISO with an offset, ``2024年1月5日 9:05``, an
    Excel serial with a fraction of a day, or a date alone (midnight); naive times are in
    ``zone``. The result is in UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = _loose_datetime(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def _loose_datetime(value: str) -> datetime:
    if _SERIAL_TIME.fullmatch(value):
        day = normalise.parse_date(value.split(".")[0], excel_serial=True)
        seconds = round(float("0." + value.split(".")[1]) * 86400)
        return datetime.combine(day, time()) + timedelta(seconds=min(seconds, 86399))
    match = _TIME.fullmatch(value)
    try:
        if match is None:
            return datetime.combine(normalise.parse_date(value, excel_serial=True), time())
        day = normalise.parse_date(match[1], excel_serial=True)
        clock = time(int(match[2]), int(match[3]), int(match[4] or 0))
    except ValueError as exc:
        raise ValueError("invalid_datetime") from exc
    return datetime.combine(day, clock)


def parse_postcode(value: str, region: str) -> str:
    """A postcode; in China six digits, and five mean Excel dropped a leading zero."""
    text = value.replace(" ", "")
    if region == "CN":
        if text.isdigit() and text.isascii() and len(text) < 6:
            raise ValueError("leading_zeros_lost")
        if not (text.isdigit() and text.isascii() and len(text) == 6):
            raise ValueError("invalid_postcode")
    if len(text) > 16:
        raise ValueError("too_long")
    return text


def compose_name(family: str | None, given: str | None) -> str | None:
    """A full name from its parts: ``王`` + ``小明`` → ``王小明``; ``Smith`` + ``John`` →
    ``John Smith``."""
    if not family or not given:
        return family or given
    if _HAN.search(family) and _HAN.search(given):
        return family + given
    return f"{given} {family}"


# --- what validation needs from the database ------------------------------------------------


@dataclass(frozen=True)
class CustomFieldRule:
    """How a custom field's cells are checked: its type and allowed choices."""

    field_type: str
    choices: tuple[str, ...] = ()


@dataclass
class Lookup:
    """Reference data for validation, read once per import."""

    region: str = "CN"
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    users: dict[str, int] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    allowed_teams: frozenset[int] | None = None
    custom: dict[str, CustomFieldRule] = field(default_factory=dict)


# --- the validator -------------------------------------------------------------------------

Handler = Callable[[str, dict[str, Any]], None]


class RowValidator:
    """Checks and normalises rows of one file for one kind of import."""

    def __init__(
        self, kind: str, headers: list[str], mapping: dict[str, str | None], lookup: Lookup
    ):
        self.kind = kind
        self.lookup = lookup
        self.headers = headers
        known = FIELDS[kind]
        self.plan: list[tuple[int, str, str, Handler]] = []
        self.columns: dict[str, str] = {}
        for index, header in enumerate(headers):
            target = mapping.get(header)
            if not target:
                continue
            handler = self._handler(target, known)
            self.plan.append((index, header, target, handler))
            self.columns[target] = header
        self.has_lines = kind == "orders" and any(f in self.columns for f in LINE_FIELDS)
        # What the row loop needs, decided once: identifiers and phones are checked for the
        # ways Excel mangles long numbers (only cells with an "E" or a "." can be mangled).
        numeric = frozenset((*ID_LIKE, "phone", "customer_phone"))
        self.steps = [(i, h, fn, target in numeric) for i, h, target, fn in self.plan]
        self.finish: Callable[[dict[str, Any], RowErrors], None] = getattr(self, f"_finish_{kind}")
        self.today = date.today()

    def _handler(self, target: str, known: dict[str, tuple[str, ...]]) -> Handler:
        if target.startswith("cf.") and self.kind == "customers":
            key = target[3:]
            rule = self.lookup.custom.get(key)
            if rule is None:
                raise ValueError(f"unknown_field:{target}")
            return lambda raw, out: self._custom(key, rule, raw, out)
        if target not in known:
            raise ValueError(f"unknown_field:{target}")
        method = getattr(self, f"_f_{self.kind}_{target}", None) or getattr(
            self, f"_f_{target}", None
        )
        if method is not None:
            return method  # type: ignore[no-any-return]
        limit = TEXT_LIMITS.get(target, 200)
        return lambda raw, out: self._text(target, limit, raw, out)

    # -- the row --

    def validate(self, cells: list[str]) -> tuple[dict[str, Any], RowErrors]:
        """The row's values to write and its errors (an empty list when it is valid)."""
        out: dict[str, Any] = {}
        errors: RowErrors = []
        for index, header, handler, numeric in self.steps:
            raw = cells[index]
            if not raw:
                continue
            if raw[0] in "=+-@" and is_formula(raw):
                errors.append((header, "formula", ""))
                continue
            if numeric and _MANGLED.search(raw):
                damage = excel_damage(raw)
                if damage is not None:
                    errors.append((header, damage, ""))
                    continue
            try:
                handler(raw, out)
            except ValueError as exc:
                errors.append((header, str(exc.args[0]), ""))
        self.finish(out, errors)
        return out, errors

    def key(self, values: dict[str, Any]) -> tuple[str, str] | None:
        """The key that identifies the row's record inside the file (duplicates are errors)."""
        if self.kind == "customers":
            for name in ("external_id", "phone_key", "email_key"):
                if values.get(name):
                    return name, values[name]
            if values.get("kind") == "company":
                return "company", values["name_key"]
            return None
        if self.kind == "orders":
            return "number", values["number"]
        return "external_id", values["external_id"]

    def key_column(self, key: tuple[str, str]) -> str:
        """The header of the column a key comes from (for the report)."""
        source = {"phone_key": "phone", "email_key": "email", "company": "name"}
        return self.columns.get(source.get(key[0], key[0]), "")

    # -- after the cells --

    def _finish_customers(self, out: dict[str, Any], errors: RowErrors) -> None:
        if "name" not in out:
            composed = compose_name(out.pop("family_name", None), out.pop("given_name", None))
            if composed:
                out["name"] = composed[:200]
        else:
            out.pop("family_name", None)
            out.pop("given_name", None)
        name = out.get("name")
        if not name:
            if not errors:
                errors.append((self.columns.get("name", ""), "required", ""))
            return
        out["name_key"] = normalise.name_key(name)
        # A one-word name has no alternative key (most Chinese names): skip the call.
        out["alt_key"] = normalise.alt_name_key(name) if " " in name else None
        address = out.get("address")
        if address and self.lookup.region == "CN":
            province, city, district = divisions(address)
            for key, value in (("province", province), ("city", city), ("district", district)):
                if value and key not in out:
                    out[key] = value
        has_key = out.get("external_id") or out.get("phone_key") or out.get("email_key")
        if not has_key and out.get("kind") != "company" and not errors:
            errors.append(("", "no_key", ""))

    def _finish_orders(self, out: dict[str, Any], errors: RowErrors) -> None:
        self._require(out, errors, "number")
        self._require(out, errors, "ordered_at")
        self._require_customer(out, errors)
        if self.has_lines:
            self._line(out, errors)
        elif "amount" not in out and not errors:
            errors.append((self.columns.get("amount", ""), "required", ""))

    def _line(self, out: dict[str, Any], errors: RowErrors) -> None:
        quantity = out.pop("quantity", None) or "1"
        price = out.pop("unit_price", None)
        amount = out.pop("line_amount", None)
        if amount is None and price is not None:
            amount = str((Decimal(price) * Decimal(quantity)).quantize(Decimal("0.01")))
        if amount is None:
            if not errors:
                errors.append((self.columns.get("line_amount", ""), "required", ""))
            return
        sku, name = out.pop("item_sku", None), out.pop("item_name", None)
        out["line"] = [sku, name, quantity, price, amount]

    def _finish_activities(self, out: dict[str, Any], errors: RowErrors) -> None:
        self._require(out, errors, "occurred_at")
        self._require_customer(out, errors)
        if "subject" not in out:
            body = out.get("body")
            if body:
                out["subject"] = body[:60]
            elif not errors:
                errors.append((self.columns.get("subject", ""), "required", ""))
                return
        out.setdefault("kind", "note")
        if "external_id" not in out and not errors:
            # No record id in the file: a digest of what the row says keeps re-imports idempotent.
            parts = [out.get(k) or "" for k in ("customer_external_id", "phone_key", "email_key")]
            parts += [out["kind"], out.get("occurred_at", ""), out["subject"], out.get("body", "")]
            digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
            out["external_id"] = "row:" + digest

    def _require(self, out: dict[str, Any], errors: RowErrors, name: str) -> None:
        if name not in out and not any(e[0] == self.columns.get(name) for e in errors):
            errors.append((self.columns.get(name, ""), "required", ""))

    def _require_customer(self, out: dict[str, Any], errors: RowErrors) -> None:
        if not any(out.get(k) for k in ("customer_external_id", "phone_key", "email_key")):
            headers = {self.columns.get(k) for k in CUSTOMER_KEY_FIELDS}
            if not any(e[0] in headers for e in errors):
                errors.append(("", "no_customer_key", ""))

    # -- cells --

    def _text(self, name: str, limit: int, raw: str, out: dict[str, Any]) -> None:
        if len(raw) > limit:
            raise ValueError("too_long")
        out[name] = raw

    def _f_name(self, raw: str, out: dict[str, Any]) -> None:
        self._text("name", 200, normalise.clean_name(raw), out)

    def _f_phone(self, raw: str, out: dict[str, Any]) -> None:
        phone = parse_phone(raw, self.lookup.region)
        out["phone"], out["phone_key"] = phone, normalise.phone_key(phone)

    def _f_customer_phone(self, raw: str, out: dict[str, Any]) -> None:
        out["phone_key"] = normalise.phone_key(parse_phone(raw, self.lookup.region))

    def _f_email(self, raw: str, out: dict[str, Any]) -> None:
        out["email"] = out["email_key"] = parse_email(raw)

    def _f_customer_email(self, raw: str, out: dict[str, Any]) -> None:
        out["email_key"] = parse_email(raw)

    def _f_kind(self, raw: str, out: dict[str, Any]) -> None:
        kind = KINDS.get(raw.casefold())
        if kind is None:
            raise ValueError("invalid_kind")
        out["kind"] = kind

    def _f_lifecycle_stage(self, raw: str, out: dict[str, Any]) -> None:
        stage = LIFECYCLE.get(raw.casefold())
        if stage is None:
            raise ValueError("invalid_stage")
        out["lifecycle_stage"] = stage

    def _f_postcode(self, raw: str, out: dict[str, Any]) -> None:
        out["postcode"] = parse_postcode(raw, self.lookup.region)

    def _f_birth_date(self, raw: str, out: dict[str, Any]) -> None:
        # ISO dates (most files) skip the tolerant parser, which reads them the same way.
        if _ISO_DATE.fullmatch(raw):
            try:
                born = date.fromisoformat(raw)
            except ValueError as exc:
                raise ValueError("invalid_date") from exc
        else:
            born = normalise.parse_date(raw, excel_serial=True)
        if born > self.today or born.year < 1850:
            raise ValueError("invalid_date")
        out["birth_date"] = born.isoformat()

    def _f_id_number(self, raw: str, out: dict[str, Any]) -> None:
        out["id_number"] = normalise.parse_id_number(raw)

    def _f_tags(self, raw: str, out: dict[str, Any]) -> None:
        names = [part.strip() for part in _TAG_SPLIT.split(raw)]
        tags = list(dict.fromkeys(filter(None, names)))  # empty names dropped, order kept
        if any(len(tag) > 60 for tag in tags):
            raise ValueError("too_long")
        out["tags"] = tags

    def _f_owner(self, raw: str, out: dict[str, Any]) -> None:
        user_id = self.lookup.users.get(raw.casefold())
        if user_id is None:
            raise ValueError("unknown_user")
        out["owner_id"] = user_id

    def _f_team(self, raw: str, out: dict[str, Any]) -> None:
        team_id = self.lookup.teams.get(raw.casefold())
        if team_id is None:
            raise ValueError("unknown_team")
        allowed = self.lookup.allowed_teams
        if allowed is not None and team_id not in allowed:
            raise ValueError("not_your_team")
        out["team_id"] = team_id

    def _f_website(self, raw: str, out: dict[str, Any]) -> None:
        self._text("website", 200, raw, out)

    def _f_ordered_at(self, raw: str, out: dict[str, Any]) -> None:
        out["ordered_at"] = parse_datetime(raw, self.lookup.zone).isoformat()

    def _f_occurred_at(self, raw: str, out: dict[str, Any]) -> None:
        out["occurred_at"] = parse_datetime(raw, self.lookup.zone).isoformat()

    def _f_amount(self, raw: str, out: dict[str, Any]) -> None:
        out["amount"] = str(parse_money(raw))

    def _f_unit_price(self, raw: str, out: dict[str, Any]) -> None:
        out["unit_price"] = str(parse_money(raw))

    def _f_line_amount(self, raw: str, out: dict[str, Any]) -> None:
        out["line_amount"] = str(parse_money(raw))

    def _f_quantity(self, raw: str, out: dict[str, Any]) -> None:
        out["quantity"] = str(parse_quantity(raw))

    def _f_currency(self, raw: str, out: dict[str, Any]) -> None:
        out["currency"] = parse_currency(raw)

    def _f_status(self, raw: str, out: dict[str, Any]) -> None:
        status = ORDER_STATUSES.get(raw.casefold())
        if status is None:
            raise ValueError("invalid_status")
        out["status"] = status

    def _f_activities_kind(self, raw: str, out: dict[str, Any]) -> None:
        kind = ACTIVITY_KINDS.get(raw.casefold())
        if kind is None:
            raise ValueError("invalid_activity_kind")
        out["kind"] = kind

    def _custom(self, key: str, rule: CustomFieldRule, raw: str, out: dict[str, Any]) -> None:
        value: str
        if rule.field_type == "number":
            try:
                number = Decimal(raw.replace(",", ""))
            except InvalidOperation as exc:
                raise ValueError("invalid_number") from exc
            if not number.is_finite() or abs(number) >= Decimal("1e14"):
                raise ValueError("invalid_number")
            value = str(number.quantize(Decimal("0.000001")))
        elif rule.field_type == "date":
            value = normalise.parse_date(raw, excel_serial=True).isoformat()
        elif rule.field_type == "choice":
            if raw not in rule.choices:
                raise ValueError("invalid_choice")
            value = raw
        else:
            if len(raw) > 500:
                raise ValueError("too_long")
            value = raw
        out.setdefault("cf", {})[key] = value


def make_validator(
    kind: str, headers: list[str], mapping: dict[str, str | None], lookup: Lookup
) -> RowValidator:
    """A validator for ``kind`` over a file with ``headers`` mapped as ``mapping``."""
    return RowValidator(kind, headers, mapping, lookup)
