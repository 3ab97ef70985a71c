"""Import rules that need no database: which column of a file is which field.

A file's headers are matched to fields by their normalised form against the names Chinese and
English tools use (姓名, 手机号码, E-mail, Mobile Phone ...), then against the admin-defined custom
fields (key or either label). Each field is taken once, by the first matching column; the rest
stay unmapped for the user to choose. The same rules serve the wizard and the CLI.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from clientops.core.normalise import clean_text

CUSTOMER_FIELDS: dict[str, tuple[str, ...]] = {
    "external_id": (
        "id", "客户id", "客户编号", "客户编码", "会员id", "会员编号", "会员卡号", "customer id",
        "customer no", "customer number", "customer code", "member id", "external id",
    ),
    "name": (
        "姓名", "名称", "客户", "客户名称", "客户姓名", "联系人", "联系人姓名", "会员姓名",
        "name", "full name", "customer", "customer name", "contact", "contact name",
    ),
    "family_name": ("姓", "姓氏", "last name", "family name", "surname"),
    "given_name": ("名", "名字", "first name", "given name", "forename"),
    "kind": ("类型", "客户类型", "type", "customer type", "kind"),
    "phone": (
        "手机", "手机号", "手机号码", "电话", "电话号码", "联系电话", "联系方式", "移动电话",
        "手机电话", "mobile", "mobile phone", "mobile number", "cell", "cell phone", "phone",
        "phone number", "telephone", "tel",
    ),
    "email": (
        "邮箱", "邮件", "电子邮箱", "电子邮件", "邮箱地址", "email", "e mail", "email address",
        "mail",
    ),
    "account": (
        "公司", "公司名称", "单位", "单位名称", "所属公司", "企业", "企业名称", "工作单位",
        "company", "company name", "account", "account name", "organization", "organisation",
        "employer",
    ),
    "title": ("职位", "职务", "岗位", "头衔", "title", "job title", "position", "role"),
    "address": (
        "地址", "联系地址", "详细地址", "通讯地址", "收货地址", "住址", "address", "street",
        "street address", "mailing address",
    ),
    "city": ("城市", "所在城市", "所在地", "city", "town"),
    "website": ("网站", "网址", "官网", "主页", "website", "web", "url", "homepage"),
    "industry": ("行业", "所属行业", "industry", "sector"),
    "lifecycle_stage": ("阶段", "客户阶段", "生命周期", "生命周期阶段", "stage", "lifecycle stage"),
    "source": ("来源", "客户来源", "渠道来源", "source", "lead source", "origin"),
    "tags": ("标签", "客户标签", "tags", "tag", "labels"),
    "owner": (
        "负责人", "归属人", "跟进人", "销售", "客户经理", "owner", "account owner", "sales rep",
    ),
    "team": ("团队", "部门", "所属部门", "team", "department"),
    "notes": ("备注", "说明", "描述", "notes", "note", "remarks", "comment", "comments"),
}  # fmt: skip
"""Field → header names that mean it, in Chinese and English (compared normalised)."""

_PUNCTUATION = re.compile(r"[\s_\-./:：()（）\[\]【】*#＊]+")


def header_key(header: str) -> str:
    """A header as compared: width-normalised, case-folded, punctuation and spaces removed."""
    return _PUNCTUATION.sub("", clean_text(header).casefold())


_SYNONYMS = {header_key(name): field for field, names in CUSTOMER_FIELDS.items() for name in names}


@dataclass(frozen=True)
class CustomColumn:
    """An admin-defined custom field as the mapping sees it."""

    key: str
    label_en: str
    label_zh: str


def suggest_mapping(
    headers: Sequence[str], custom_fields: Iterable[CustomColumn] = ()
) -> dict[str, str | None]:
    """The field suggested for each header (``cf.<key>`` for a custom field), else ``None``.

    Headers are compared in their normalised form; each field is suggested for one column
    only, the first that matches, so a file with 手机 and 电话 maps 手机 to ``phone``.
    """
    custom: dict[str, str] = {}
    for definition in custom_fields:
        for name in (definition.key, definition.label_en, definition.label_zh):
            custom.setdefault(header_key(name), f"cf.{definition.key}")
    taken: set[str] = set()
    mapping: dict[str, str | None] = {}
    for header in headers:
        key = header_key(header)
        field = _SYNONYMS.get(key) or custom.get(key)
        if field in taken:
            field = None
        if field is not None:
            taken.add(field)
        mapping[header] = field
    return mapping
