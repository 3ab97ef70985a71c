"""Masking of personal data for roles that do not need to see it."""

from __future__ import annotations


def mask_phone(value: str | None) -> str | None:
    """Keep the first three and last four digits: ``13812341234`` → ``138****1234``."""
    if not value:
        return value
    prefix = "+86" if value.startswith("+86") else ""
    body = value[len(prefix) :]
    if len(body) <= 7:
        return prefix + "*" * max(len(body) - 2, 0) + body[-2:]
    return prefix + body[:3] + "*" * (len(body) - 7) + body[-4:]


def mask_email(value: str | None) -> str | None:
    """Keep the first character of the mailbox and the domain: ``z***@example.com``."""
    if not value or "@" not in value:
        return value
    local, domain = value.split("@", 1)
    return f"{local[:1]}***@{domain}"


def mask_text(value: str | None) -> str | None:
    """Keep the first few characters of an address."""
    if not value:
        return value
    keep = min(6, max(len(value) // 3, 1))
    return value[:keep] + "****"


def mask_id_number(value: str | None) -> str | None:
    """Keep the first four and last four characters: ``1101**********002X``."""
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_birth_date(value: str | None) -> str | None:
    """Keep the year of an ISO date: ``1949-12-31`` → ``1949-**-**``."""
    if not value:
        return value
    return value[:4] + "-**-**"
