"""Translations from the Babel catalogs (zh-CN and en), chosen per request."""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po
from babel.support import Format

LOCALES = ("en", "zh_CN")
LOCALE_NAMES = {"en": "English", "zh_CN": "中文"}
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

_locale: ContextVar[str] = ContextVar("clientops_locale", default="en")


@lru_cache
def catalog(locale: str) -> dict[str, str]:
    """msgid → translation for one locale, read from its .po file once."""
    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        po = read_po(handle, locale=locale)
    return {str(m.id): str(m.string) for m in po if m.id and m.string and not m.fuzzy}


def set_locale(locale: str) -> None:
    """Use ``locale`` for the rest of this request or command."""
    _locale.set(locale if locale in LOCALES else "en")


def get_locale() -> str:
    """The locale in force."""
    return _locale.get()


def gettext(message: str) -> str:
    """``message`` in the current locale (the English msgid when untranslated)."""
    return catalog(get_locale()).get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Singular or plural form; Chinese has one form."""
    return gettext(singular if n == 1 else plural)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now."""
    return message


def fmt() -> Format:
    """Number and date formatting for the current locale."""
    return _format(get_locale())


@lru_cache
def _format(locale: str) -> Format:
    return Format(locale)


_ = gettext
