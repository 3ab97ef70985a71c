"""Every user-visible string is in the catalogs, translated into Chinese."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from clientops.core import i18n

TOOLS = Path(__file__).resolve().parent.parent / "tools" / "messages.py"


def _extracted() -> set[str]:
    spec = importlib.util.spec_from_file_location("messages_tool", TOOLS)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {str(m.id) for m in module.extract() if m.id}


def test_every_string_in_code_and_templates_has_a_chinese_translation() -> None:
    zh = i18n.catalog("zh_CN")
    missing = sorted(_extracted() - set(zh))
    assert not missing, f"add these to tools/zh_CN.tsv and run tools/messages.py: {missing}"


def test_switching_locale_changes_the_words() -> None:
    i18n.set_locale("zh_CN")
    assert i18n.gettext("Customers") == "客户"
    i18n.set_locale("en")
    assert i18n.gettext("Customers") == "Customers"
