"""Extract translatable strings and update the zh_CN and en catalogs.

Usage: ``python tools/messages.py`` (after adding or changing user-visible strings), then fill
in the empty ``msgstr`` lines of ``src/clientops/locale/zh_CN/LC_MESSAGES/messages.po``.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

SRC = Path(__file__).resolve().parent.parent / "src" / "clientops"
LOCALES = ("zh_CN", "en")
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}


def extract() -> Catalog:
    """Every translatable string in the package."""
    template = Catalog(project="clientops", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(SRC), method_map=METHODS, options_map=OPTIONS, keywords=KEYWORDS
    ):
        if "migrations" in filename:
            continue
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def _translations(locale: str) -> dict[str, str]:
    """Translations kept as a reviewable table (``tools/<locale>.tsv``: msgid TAB msgstr)."""
    # One table per locale, plus one per domain under tools/<locale>.d/ (fewer edit clashes).
    here = Path(__file__).resolve().parent
    tables = [here / f"{locale}.tsv", *sorted((here / f"{locale}.d").glob("*.tsv"))]
    found: dict[str, str] = {}
    for table in tables:
        if table.exists():
            lines = table.read_text("utf-8").splitlines()
            found.update(line.split("\t", 1) for line in lines if "\t" in line)
    return found


def update() -> None:
    """Merge the extracted strings into each locale's .po file."""
    for locale in LOCALES:
        # A fresh template per locale: Babel shares new message objects with the template, so
        # filling one locale's strings would otherwise leak them into the next.
        template = extract()
        path = SRC / "locale" / locale / "LC_MESSAGES" / "messages.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=locale)
            catalog.update(template, no_fuzzy_matching=True)
        else:
            catalog = Catalog(locale=locale, project="clientops", charset="utf-8")
            catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as handle:
            write_po(
                handle,
                catalog,
                no_location=True,
                omit_header=False,
                sort_output=True,
                ignore_obsolete=True,
            )
        for message in catalog:
            if message.id and not message.string:
                message.string = _translations(locale).get(str(message.id), "")
        with path.open("wb") as handle:
            write_po(
                handle,
                catalog,
                no_location=True,
                omit_header=False,
                sort_output=True,
                ignore_obsolete=True,
            )
        missing = sum(1 for m in catalog if m.id and not m.string)
        print(f"{locale}: {len(catalog)} messages, {missing} untranslated")


if __name__ == "__main__":
    update()
