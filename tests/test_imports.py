"""Import column mapping: the headers real exports use, in Chinese and English."""

from __future__ import annotations

from clientops.imports.service import CustomColumn, header_key, suggest_mapping


def test_a_chinese_crm_export_maps_every_usual_column() -> None:
    headers = ["客户编号", "客户名称", "手机号码", "电子邮箱", "公司名称", "职务", "详细地址",
               "所在城市", "客户来源", "负责人", "所属部门", "标签", "备注",
               "下单次数"]  # fmt: skip
    assert suggest_mapping(headers) == {
        "客户编号": "external_id",
        "客户名称": "name",
        "手机号码": "phone",
        "电子邮箱": "email",
        "公司名称": "account",
        "职务": "title",
        "详细地址": "address",
        "所在城市": "city",
        "客户来源": "source",
        "负责人": "owner",
        "所属部门": "team",
        "标签": "tags",
        "备注": "notes",
        "下单次数": None,  # not a customer field: the user decides
    }


def test_an_english_export_with_split_names_and_odd_spelling() -> None:
    headers = ["Customer ID", "First Name", "Last Name", "E-mail", "Mobile Phone", "Company",
               "Job Title", "Street Address", "Lead Source"]  # fmt: skip
    assert list(suggest_mapping(headers).values()) == [
        "external_id", "given_name", "family_name", "email", "phone", "account", "title",
        "address", "source",
    ]  # fmt: skip


def test_width_case_and_punctuation_do_not_matter() -> None:
    assert header_key("ＥＭＡＩＬ") == header_key("e-mail") == header_key(" Email ")
    assert suggest_mapping(["手机号码：", "【邮箱】", "姓名*", "PHONE NUMBER"]) == {
        "手机号码：": "phone",
        "【邮箱】": "email",
        "姓名*": "name",
        "PHONE NUMBER": None,  # phone is already taken by the first column
    }


def test_each_field_is_suggested_once_the_first_column_wins() -> None:
    mapping = suggest_mapping(["手机", "电话", "联系电话"])
    assert mapping == {"手机": "phone", "电话": None, "联系电话": None}


def test_custom_fields_match_by_key_or_either_label() -> None:
    fields = [
        CustomColumn(key="vip_level", label_en="VIP level", label_zh="会员等级"),
        CustomColumn(key="birthday", label_en="Birthday", label_zh="生日"),
    ]
    mapping = suggest_mapping(["会员等级", "BIRTHDAY", "vip_level", "姓名"], fields)
    assert mapping == {
        "会员等级": "cf.vip_level",
        "BIRTHDAY": "cf.birthday",
        "vip_level": None,  # the same custom field, already taken
        "姓名": "name",
    }
