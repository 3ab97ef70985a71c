"""Splitting mainland-China addresses into province, city and district."""

from __future__ import annotations

from importlib.resources import files

import pytest

from clientops.core.cnaddress import CnAddress, province_names, split_address

KNOWN = [
    ("广东省深圳市南山区科技园", ("广东省", "深圳市", "南山区", "科技园")),
    ("广东深圳南山区科技园", ("广东省", "深圳市", "南山区", "科技园")),
    ("深圳市南山区粤海街道", ("广东省", "深圳市", "南山区", "粤海街道")),
    ("浙江省杭州市余杭区文一西路969号", ("浙江省", "杭州市", "余杭区", "文一西路969号")),
    ("江苏省苏州市昆山市前进中路", ("江苏省", "苏州市", "昆山市", "前进中路")),
    ("江苏昆山前进中路", ("江苏省", "苏州市", "昆山市", "前进中路")),
    ("北京市朝阳区建国路88号", ("北京市", "北京市", "朝阳区", "建国路88号")),
    ("北京朝阳区建国路88号", ("北京市", "北京市", "朝阳区", "建国路88号")),
    ("上海市浦东新区世纪大道100号", ("上海市", "上海市", "浦东新区", "世纪大道100号")),
    ("重庆市渝中区解放碑", ("重庆市", "重庆市", "渝中区", "解放碑")),
    ("内蒙古呼和浩特市回民区", ("内蒙古自治区", "呼和浩特市", "回民区", "")),
    ("内蒙古自治区呼和浩特市回民区", ("内蒙古自治区", "呼和浩特市", "回民区", "")),
    ("新疆维吾尔自治区乌鲁木齐市天山区", ("新疆维吾尔自治区", "乌鲁木齐市", "天山区", "")),
    ("广西壮族自治区南宁市青秀区民族大道", ("广西壮族自治区", "南宁市", "青秀区", "民族大道")),
    ("广西南宁青秀区", ("广西壮族自治区", "南宁市", "青秀区", "")),
    ("吉林省吉林市船营区", ("吉林省", "吉林市", "船营区", "")),
    ("吉林市船营区", ("吉林省", "吉林市", "船营区", "")),
    ("吉林长春朝阳区", ("吉林省", "长春市", "朝阳区", "")),
    ("海南省海口市美兰区", ("海南省", "海口市", "美兰区", "")),
    ("海南区", ("内蒙古自治区", "乌海市", "海南区", "")),
    ("黑龙江哈尔滨道里区中央大街", ("黑龙江省", "哈尔滨市", "道里区", "中央大街")),
    ("河北张家口桥东区", ("河北省", "张家口市", "桥东区", "")),
    ("北京门头沟区", ("北京市", "北京市", "门头沟区", "")),
    ("天津滨海", ("天津市", "天津市", "滨海新区", "")),
    ("湖北仙桃", ("湖北省", None, "仙桃市", "")),
    ("延边州延吉市", ("吉林省", "延边朝鲜族自治州", "延吉市", "")),
    ("长阳土家族自治县", ("湖北省", "宜昌市", "长阳土家族自治县", "")),
    ("广东省，深圳市，南山区", ("广东省", "深圳市", "南山区", "")),
    ("辽宁朝阳", ("辽宁省", "朝阳市", None, "")),
    ("香港九龙城区", ("香港特别行政区", "香港特别行政区", "九龙城区", "")),
    ("澳门花地玛堂区", ("澳门特别行政区", "澳门特别行政区", "花地玛堂区", "")),
    # Full-width digits and letters are made half-width.
    ("上海市浦东新区世纪大道１００号Ａ座", ("上海市", "上海市", "浦东新区", "世纪大道100号A座")),
    # A leading postcode and country are dropped; so is a postcode further on.
    ("518057 中国广东省深圳市南山区科技园", ("广东省", "深圳市", "南山区", "科技园")),
    ("中华人民共和国北京市海淀区中关村大街1号", ("北京市", "北京市", "海淀区", "中关村大街1号")),
    ("广东省深圳市南山区科技园 邮编:518057", ("广东省", "深圳市", "南山区", "科技园")),
]


@pytest.mark.parametrize(("text", "expected"), KNOWN, ids=[t for t, _ in KNOWN])
def test_known_addresses(text: str, expected: tuple[str | None, ...]) -> None:
    assert split_address(text) == CnAddress(*expected)


def test_district_shared_by_several_cities_keeps_only_the_district() -> None:
    # 南山区 is in 深圳 and in 鹤岗; 朝阳区 in 北京 and 长春.
    assert split_address("南山区科技园") == CnAddress(None, None, "南山区", "科技园")
    assert split_address("朝阳区建国路") == CnAddress(None, None, "朝阳区", "建国路")


def test_scope_resolves_a_shared_district() -> None:
    assert split_address("黑龙江南山区").city == "鹤岗市"
    assert split_address("广东南山区").city == "深圳市"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A short form that starts a street name is not a division.
        ("湖南路123号", CnAddress(None, None, None, "湖南路123号")),
        ("中山路1号", CnAddress(None, None, None, "中山路1号")),
        ("北京朝阳门外大街", CnAddress("北京市", "北京市", None, "朝阳门外大街")),
        ("上海浦东大道100号", CnAddress("上海市", "上海市", None, "浦东大道100号")),
        ("上海南京东路100号", CnAddress("上海市", "上海市", None, "南京东路100号")),
    ],
)
def test_street_names_are_not_divisions(text: str, expected: CnAddress) -> None:
    assert split_address(text) == expected


def test_two_character_district_needs_a_city() -> None:
    # "北区" (Hong Kong) or "东区" (攀枝花) at the start of a text is too weak a sign.
    assert split_address("北区3栋") == CnAddress(None, None, None, "北区3栋")
    assert split_address("香港北区") == CnAddress("香港特别行政区", "香港特别行政区", "北区", "")


def test_english_address_is_returned_cleaned() -> None:
    text = "1600  Amphitheatre Parkway,\tMountain View, CA 94043"
    assert split_address(text) == CnAddress(
        None, None, None, "1600 Amphitheatre Parkway, Mountain View, CA 94043"
    )


def test_unrecognised_address_keeps_its_postcode() -> None:
    assert split_address("10 Anson Road, Singapore 079903") == CnAddress(
        None, None, None, "10 Anson Road, Singapore 079903"
    )


def test_empty_and_blank() -> None:
    assert split_address("") == CnAddress(None, None, None, "")
    assert split_address(" \u3000\n") == CnAddress(None, None, None, "")


def test_data_has_every_provincial_division() -> None:
    names = province_names()
    assert len(names) >= 31
    for name in ("北京市", "广东省", "内蒙古自治区", "新疆维吾尔自治区", "西藏自治区", "海南省"):
        assert name in names
    lines = (files("clientops.core") / "data" / "cn_divisions.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in lines.splitlines() if not line.startswith("#")]
    assert rows[0] == ["code", "province", "city", "district"]
    provinces = {row[1] for row in rows[1:]}
    mainland = provinces - {"香港特别行政区", "澳门特别行政区"}
    assert len(mainland) == 31
    assert len(rows) > 3000
