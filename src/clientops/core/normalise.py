"""Normalising names, phones and emails into display values and search keys."""

from __future__ import annotations

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
