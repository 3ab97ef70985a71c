"""What each kind of import can fill in, and the header names (Chinese and English) that mean it.

Headers are compared in their normalised form (see ``service.header_key``): width, case, spaces
and punctuation do not matter.
"""

from __future__ import annotations

from clientops.core.i18n import N_

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
    "province": ("省", "省份", "所在省份", "省市", "province", "state", "region"),
    "city": ("城市", "所在城市", "所在地", "city", "town"),
    "district": ("区", "区县", "县区", "所在区县", "district", "county"),
    "postcode": ("邮编", "邮政编码", "postcode", "post code", "postal code", "zip", "zip code"),
    "birth_date": (
        "生日", "出生日期", "出生年月日", "出生年月", "date of birth", "birth date", "birthdate",
        "dob",
    ),
    "id_number": (
        "身份证", "身份证号", "身份证号码", "证件号", "证件号码", "id number", "id card",
        "id card number", "national id",
    ),
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
"""Customer field → header names that mean it."""

_CUSTOMER_KEYS: dict[str, tuple[str, ...]] = {
    "customer_external_id": (
        "客户id", "客户编号", "客户编码", "会员id", "会员编号", "会员卡号", "买家id",
        "customer id", "customer no", "customer number", "customer code", "member id",
        "buyer id",
    ),
    "customer_phone": (
        "手机", "手机号", "手机号码", "电话", "联系电话", "收货人手机", "收货人电话",
        "买家手机", "mobile", "phone", "phone number", "customer phone", "telephone",
    ),
    "customer_email": ("邮箱", "电子邮箱", "email", "e mail", "customer email", "buyer email"),
}  # fmt: skip

ORDER_FIELDS: dict[str, tuple[str, ...]] = {
    **_CUSTOMER_KEYS,
    "number": (
        "订单号", "订单编号", "单号", "订单id", "交易号", "order id", "order no", "order number",
        "order", "order ref", "invoice", "invoice number",
    ),
    "ordered_at": (
        "下单时间", "订单时间", "下单日期", "订单日期", "成交时间", "付款时间", "支付时间",
        "日期", "时间", "order date", "order time", "ordered at", "date", "created",
        "created at", "paid at",
    ),
    "amount": (
        "金额", "订单金额", "实付金额", "支付金额", "实收金额", "总金额", "总价", "应付金额",
        "amount", "total", "order total", "grand total", "paid",
    ),
    "currency": ("币种", "货币", "currency"),
    "channel": ("渠道", "销售渠道", "平台", "店铺", "来源", "channel", "platform", "store"),
    "status": ("状态", "订单状态", "status", "order status"),
    "item_sku": ("商品编码", "商品编号", "货号", "sku", "product code", "item code"),
    "item_name": ("商品名称", "商品", "品名", "宝贝标题", "product", "product name", "item"),
    "quantity": ("数量", "购买数量", "件数", "qty", "quantity"),
    "unit_price": ("单价", "商品单价", "价格", "unit price", "price"),
    "line_amount": ("小计", "商品金额", "商品总价", "line total", "subtotal", "line amount"),
}  # fmt: skip
"""Order field → header names that mean it (one row per order, or one per order line)."""

ACTIVITY_FIELDS: dict[str, tuple[str, ...]] = {
    **_CUSTOMER_KEYS,
    "external_id": ("记录编号", "记录id", "活动编号", "跟进编号", "activity id", "record id"),
    "kind": ("类型", "方式", "跟进方式", "活动类型", "type", "kind", "activity type"),
    "subject": ("主题", "标题", "摘要", "subject", "title", "summary"),
    "body": ("内容", "详情", "跟进内容", "记录", "备注", "body", "content", "details", "notes"),
    "occurred_at": (
        "时间", "日期", "发生时间", "跟进时间", "活动时间", "date", "time", "when",
        "occurred at",
    ),
}  # fmt: skip
"""Activity field → header names that mean it."""

FIELDS = {"customers": CUSTOMER_FIELDS, "orders": ORDER_FIELDS, "activities": ACTIVITY_FIELDS}

LABELS: dict[str, str] = {
    "external_id": N_("External id"),
    "name": N_("Name"),
    "family_name": N_("Family name"),
    "given_name": N_("Given name"),
    "kind": N_("Type (person or company)"),
    "phone": N_("Phone"),
    "email": N_("Email"),
    "account": N_("Company (account)"),
    "title": N_("Job title"),
    "address": N_("Address"),
    "province": N_("Province"),
    "city": N_("City"),
    "district": N_("District"),
    "postcode": N_("Postcode"),
    "birth_date": N_("Birth date"),
    "id_number": N_("ID card number"),
    "website": N_("Website"),
    "industry": N_("Industry"),
    "lifecycle_stage": N_("Lifecycle stage"),
    "source": N_("Lead source"),
    "tags": N_("Tags"),
    "owner": N_("Owner (user name)"),
    "team": N_("Team"),
    "notes": N_("Notes"),
    "customer_external_id": N_("Customer external id"),
    "customer_phone": N_("Customer phone"),
    "customer_email": N_("Customer email"),
    "number": N_("Order number"),
    "ordered_at": N_("Order date and time"),
    "amount": N_("Amount"),
    "currency": N_("Currency"),
    "channel": N_("Channel"),
    "status": N_("Order status"),
    "item_sku": N_("Item SKU"),
    "item_name": N_("Item name"),
    "quantity": N_("Quantity"),
    "unit_price": N_("Unit price"),
    "line_amount": N_("Line amount"),
    "subject": N_("Subject"),
    "body": N_("Details"),
    "occurred_at": N_("Date and time"),
}
"""The English label of each field (translated where shown)."""

CUSTOMER_KEY_FIELDS = ("customer_external_id", "customer_phone", "customer_email")
LINE_FIELDS = ("item_sku", "item_name", "quantity", "unit_price", "line_amount")
ID_LIKE = ("external_id", "customer_external_id", "number", "postcode", "id_number")
"""Fields whose values are identifiers: Excel's number mangling is an error there."""
