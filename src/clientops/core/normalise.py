"""Normalising names, phones and emails into display values and search keys."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email

_SPACES = re.compile(r"\s+")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def clean_text(value: str) -> str:
    """Full-width to half-width; zero-width, bidi and control characters removed; any run of
    whitespace (tabs and line breaks included) made one space."""
    # Fast path for text that is already clean (most cells): printable means no control,
    # zero-width, bidi or whitespace character other than the plain space, so only the outer
    # spaces can differ from the full treatment below.
    if value.isprintable() and "  " not in value and unicodedata.is_normalized("NFKC", value):
        return value.strip()
    value = _CONTROL.sub("", _INVISIBLE.sub("", unicodedata.normalize("NFKC", value)))
    return _SPACES.sub(" ", value).strip()


def name_key(value: str) -> str:
    """The search key of a name: cleaned and case-folded."""
    return clean_text(value).casefold()


def alt_name_key(value: str) -> str | None:
    """A second key with the last word first, so ``Smith`` finds ``John Smith``."""
    words = name_key(value).split(" ")
    if len(words) < 2:
        return None
    return " ".join([words[-1], *words[:-1]])


def parse_phone(value: str, region: str = "CN") -> str:
    """A phone number in E.164; raises ``ValueError`` when it is not a valid number."""
    text = clean_text(value).replace(" ", "")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("invalid_phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("invalid_phone")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def phone_key(e164: str) -> str:
    """Digits searched by prefix: the national number for China, all digits otherwise."""
    return e164[3:] if e164.startswith("+86") else e164.lstrip("+")


def display_phone(e164: str | None) -> str | None:
    """How a stored number is shown: national form for China, E.164 otherwise."""
    if e164 and e164.startswith("+86"):
        return e164[3:]
    return e164


def parse_email(value: str) -> str:
    """A normalised email address; raises ``ValueError`` when it is not valid."""
    try:
        result = validate_email(clean_text(value), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError("invalid_email") from exc
    return str(result.normalized).lower()


def query_kind(q: str) -> tuple[str, str]:
    """What a search box query looks for, and its key: ``email``, ``phone`` or ``name``."""
    text = clean_text(q)
    if "@" in text:
        return "email", text.casefold()
    digits = re.sub(r"[\s\-()+]", "", text)
    if digits.isdigit() and len(digits) >= 3:
        if digits.startswith("0086"):
            digits = digits[4:]
        elif digits.startswith("86") and len(digits) > 11:
            digits = digits[2:]
        return "phone", digits
    return "name", text.casefold()


PREFIX_END = "\U0010ffff"

# A space is dropped when both neighbours are hanzi: "张 伟" is one name written with a gap.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_GAP = re.compile(f"(?<=[{_HAN}]) (?=[{_HAN}])")


def clean_name(value: str) -> str:
    """A person's or company's name as stored: :func:`clean_text`, and hanzi spaced apart joined."""
    return _HAN_GAP.sub("", clean_text(value))


ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
"""GB 11643-1999: the weight of each of the first 17 digits of an identity number."""
ID_CHECK_CODES = "10X98765432"
"""GB 11643-1999: the check character for each remainder of the weighted sum modulo 11."""
EARLIEST_BIRTH_DATE = dt.date(1850, 1, 1)
"""Birth dates (and those inside identity numbers) before this are refused as implausible."""
_ID18 = re.compile(r"[1-9]\d{16}[\dX]")
_ID15 = re.compile(r"[1-9]\d{14}")


def id_check_code(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits of an identity number."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CODES[total % 11]


def _id_birth_date(digits: str) -> dt.date | None:
    """The birth date inside an 18-character number, or None when it is not a past date."""
    try:
        born = dt.date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14]))
    except ValueError:
        return None
    return born if EARLIEST_BIRTH_DATE <= born <= dt.date.today() else None


def parse_id_number(value: str) -> str:
    """A mainland resident identity number in its 18-character form (upper-case X); the legacy
    15-digit form is converted; raises ``ValueError("invalid_id_number")``."""
    text = clean_text(value).replace(" ", "").upper()
    if _ID15.fullmatch(text):
        # Legacy numbers (before 1999) carry a two-digit year of the 1900s and no check code.
        first17 = text[:6] + "19" + text[6:]
        text = first17 + id_check_code(first17)
    if not _ID18.fullmatch(text) or _id_birth_date(text) is None:
        raise ValueError("invalid_id_number")
    if id_check_code(text[:17]) != text[17]:
        raise ValueError("invalid_id_number")
    return text


def id_number_birth_date(id_number: str) -> dt.date:
    """The birth date encoded in an identity number; ``ValueError`` when it is not valid."""
    born = _id_birth_date(parse_id_number(id_number))
    assert born is not None  # parse_id_number has checked it
    return born


_TIME_PART = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_YMD = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})" + _TIME_PART)
_YMD_CN = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DMY = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4})")
_SERIAL = re.compile(r"\d{1,7}(?:\.0+)?")
# Excel counts days from 1899-12-30 for every serial after its phantom 1900-02-29 (serial 60).
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def _ymd(year: str, month: str, day: str) -> dt.date:
    """A date from its parts; raises ``ValueError("invalid_date")`` when there is no such day."""
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError as exc:
        raise ValueError("invalid_date") from exc


def _day_first_or_month_first(first: str, second: str, year: str) -> dt.date:
    """``05/01/2024``: only when the order cannot matter or one part is above 12."""
    a, b = int(first), int(second)
    if a == b or (a > 12 and b <= 12):
        return _ymd(year, second, first)
    if b > 12 and a <= 12:
        return _ymd(year, first, second)
    raise ValueError("invalid_date")  # 05/01/2024 could be 5 January or 1 May: refuse to guess


def _excel_serial(text: str) -> dt.date:
    """A date from an Excel serial day number (1900 date system)."""
    serial = int(float(text))
    if serial < 1 or serial == 60 or serial > 2958465:
        raise ValueError("invalid_date")
    if serial < 60:
        return _EXCEL_EPOCH + dt.timedelta(days=serial + 1)
    return _EXCEL_EPOCH + dt.timedelta(days=serial)


def parse_date(value: str, *, excel_serial: bool = False) -> dt.date:
    """A calendar date from the ways people and spreadsheets write one; an ambiguous day/month
    order is refused; raises ``ValueError("invalid_date")``."""
    text = clean_text(value)
    if match := _YMD.fullmatch(text):
        return _ymd(match[1], match[3], match[4])
    if match := _YMD_CN.fullmatch(text.replace(" ", "")):
        return _ymd(match[1], match[2], match[3])
    if match := _COMPACT.fullmatch(text):
        return _ymd(match[1], match[2], match[3])
    if match := _DMY.fullmatch(text):
        return _day_first_or_month_first(match[1], match[3], match[4])
    if excel_serial and _SERIAL.fullmatch(text):
        return _excel_serial(text)
    raise ValueError("invalid_date")
