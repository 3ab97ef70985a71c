"""A bilingual (zh-CN and en) demo company: teams, users, customers, orders and activities.

Users and teams go through the auth service (argon2 hashes, audit rows). The bulk rows never become
ORM objects: they are generated as tuples, in batches, with ids assigned here (after the current
maximum) so that orders can point at customers without reading anything back, and written with
``COPY`` on PostgreSQL and ``executemany`` on SQLite, all in one transaction. One audit event
(``demo.load``) records the load, not one per row.
"""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate, islice
from typing import Any, Protocol, TypeVar

from psycopg import sql
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.orm import Session

from clientops.audit import service as audit_service
from clientops.audit.models import AuditEvent
from clientops.auth import service as auth_service
from clientops.config import current
from clientops.core.context import SYSTEM, bind
from clientops.core.normalise import alt_name_key, name_key, phone_key
from clientops.customers.models import Activity, Customer, ExternalId, Order, Tag
from clientops.exceptions import InvalidInput

Progress = Callable[[str, int, int], None]
T = TypeVar("T")
Row = tuple[Any, ...]

BATCH_ROWS = 25_000
CUSTOMER_BATCH = 50_000
YEARS = 3
DAY = 86_400
DEMO_ACTIVITY_RATE = 2.0
LARGE_ACTIVITY_RATE = 1.0
LARGE_DEMO = 200_000
"""Above this many customers, activities drop to about one per customer (time budget)."""

# --- who works at the demo company ---------------------------------------------------------

TEAMS = {
    "east": "华东销售 East Sales",
    "south": "华南服务 South Service",
    "key": "Key Accounts 大客户",
    "intl": "International 国际",
}


@dataclass(frozen=True)
class _UserSpec:
    username: str
    role: str
    display_name: str
    teams: tuple[str, ...] = ()


DEMO_USERS = (
    _UserSpec("admin", "admin", "系统管理员 Admin"),
    _UserSpec("ops", "ops_manager", "运营经理 Ops Manager", ("east", "south")),
    _UserSpec("pm", "project_manager", "项目经理 Project Manager", ("key",)),
    _UserSpec("agent", "agent", "客服专员 Agent", ("east",)),
    _UserSpec("analyst", "analyst", "数据分析师 Analyst"),
    _UserSpec("viewer", "viewer", "访客 Viewer", ("intl",)),
    _UserSpec("agent2", "agent", "客服专员二 Agent Two", ("south",)),
    _UserSpec("zhangwei", "agent", "张伟", ("east", "key")),
    _UserSpec("liuna", "agent", "刘娜", ("south",)),
    _UserSpec("chenjing", "agent", "陈静", ("east",)),
    _UserSpec("emma", "agent", "Emma Clarke", ("intl",)),
    _UserSpec("james", "agent", "James Walker", ("intl", "key")),
)
OWNER_ROLES = frozenset({"agent", "ops_manager", "project_manager"})

# --- vocabulary ----------------------------------------------------------------------------
# fmt: off

SURNAMES = (
    ("王", "wang", 30), ("李", "li", 29), ("张", "zhang", 27), ("刘", "liu", 21),
    ("陈", "chen", 17), ("杨", "yang", 12), ("黄", "huang", 9), ("赵", "zhao", 8),
    ("吴", "wu", 8), ("周", "zhou", 8), ("徐", "xu", 6), ("孙", "sun", 6), ("马", "ma", 5),
    ("朱", "zhu", 5), ("胡", "hu", 5), ("郭", "guo", 5), ("何", "he", 4), ("高", "gao", 4),
    ("林", "lin", 4), ("罗", "luo", 4), ("郑", "zheng", 3), ("梁", "liang", 3),
    ("谢", "xie", 3), ("宋", "song", 3), ("唐", "tang", 3), ("许", "xu", 2), ("韩", "han", 2),
    ("冯", "feng", 2), ("邓", "deng", 2), ("曹", "cao", 2),
)
GIVEN_CHARS = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
    ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"),
    ("杰", "jie"), ("娟", "juan"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀", "xiu"),
    ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("英", "ying"), ("华", "hua"), ("玉", "yu"),
    ("红", "hong"), ("玲", "ling"), ("斌", "bin"), ("浩", "hao"), ("宇", "yu"), ("欣", "xin"),
    ("婷", "ting"), ("雪", "xue"), ("琳", "lin"), ("晨", "chen"), ("博", "bo"), ("文", "wen"),
    ("建", "jian"), ("国", "guo"), ("志", "zhi"), ("海", "hai"), ("晓", "xiao"), ("思", "si"),
    ("佳", "jia"), ("子", "zi"), ("涵", "han"), ("睿", "rui"), ("轩", "xuan"), ("嘉", "jia"),
)
FIRST_NAMES = (
    "James", "Emma", "Oliver", "Olivia", "William", "Sophia", "Henry", "Amelia", "Jack",
    "Isabella", "Thomas", "Charlotte", "Daniel", "Grace", "Michael", "Emily", "David", "Lucy",
    "Samuel", "Hannah", "Benjamin", "Chloe", "Matthew", "Ella", "Andrew", "Ava", "Ryan", "Mia",
    "Lucas", "Zoe", "Ethan", "Ruby",
)
LAST_NAMES = (
    "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Walker", "Wright",
    "Thompson", "White", "Clarke", "Hall", "Green", "Wood", "Harris", "Martin", "Lewis", "Young",
    "King", "Baker", "Turner", "Hill", "Cooper", "Ward", "Morris", "Moore", "Carter", "Mitchell",
    "Parker", "Bennett", "Hughes",
)
COMPANY_CORES_ZH = (
    ("华信", "huaxin"), ("恒通", "hengtong"), ("盛达", "shengda"), ("鼎新", "dingxin"),
    ("中科", "zhongke"), ("天成", "tiancheng"), ("锦程", "jincheng"), ("博远", "boyuan"),
    ("瑞丰", "ruifeng"), ("金桥", "jinqiao"), ("宏图", "hongtu"), ("新航", "xinhang"),
    ("联创", "lianchuang"), ("海润", "hairun"), ("永泰", "yongtai"), ("嘉禾", "jiahe"),
    ("明阳", "mingyang"), ("汇智", "huizhi"), ("云帆", "yunfan"), ("星辰", "xingchen"),
    ("蓝海", "lanhai"), ("广源", "guangyuan"), ("君合", "junhe"), ("德胜", "desheng"),
    ("安和", "anhe"), ("卓越", "zhuoyue"), ("智远", "zhiyuan"), ("东方", "dongfang"),
)
COMPANY_CORES_EN = (
    "Northwind", "Bluepeak", "Silverline", "Redwood", "Oakridge", "Brightwater", "Ironbridge",
    "Summit", "Evergreen", "Pinecrest", "Crescent", "Atlas", "Meridian", "Harbor", "Keystone",
    "Lakeside", "Stonegate", "Westfield", "Granite", "Falcon", "Riverside", "Sterling", "Beacon",
    "Horizon",
)
INDUSTRIES = (  # word in a Chinese name, word in an English name, the industry stored
    ("科技", "Technology", "Technology"), ("软件", "Software", "Software"),
    ("物流", "Logistics", "Logistics"), ("贸易", "Trading", "Trading"),
    ("制造", "Manufacturing", "Manufacturing"), ("医疗器械", "Medical", "Healthcare"),
    ("食品", "Foods", "Food & Beverage"), ("教育科技", "Learning", "Education"),
    ("咨询", "Consulting", "Consulting"), ("电子", "Electronics", "Electronics"),
    ("建筑工程", "Engineering", "Construction"), ("文化传媒", "Media", "Media"),
    ("新能源", "Energy", "Energy"), ("服饰", "Apparel", "Apparel"),
)
ZH_SUFFIXES = ("有限公司",) * 16 + ("股份有限公司",) * 3 + ("集团有限公司",)
EN_SUFFIXES = ("Ltd", "Inc.", "LLC", "Group", "Co.", "Ltd", "Inc.")
ZH_CITIES = {  # city: (landline area code, districts)
    "上海": ("21", ("浦东新区", "徐汇区", "静安区", "闵行区", "杨浦区")),
    "杭州": ("571", ("西湖区", "滨江区", "余杭区", "拱墅区")),
    "南京": ("25", ("鼓楼区", "玄武区", "江宁区", "建邺区")),
    "苏州": ("512", ("工业园区", "姑苏区", "吴中区", "相城区")),
    "宁波": ("574", ("鄞州区", "海曙区", "江北区")),
    "合肥": ("551", ("蜀山区", "包河区", "庐阳区")),
    "广州": ("20", ("天河区", "越秀区", "海珠区", "番禺区")),
    "深圳": ("755", ("南山区", "福田区", "宝安区", "龙岗区")),
    "厦门": ("592", ("思明区", "湖里区", "集美区")),
    "福州": ("591", ("鼓楼区", "台江区", "仓山区")),
    "东莞": ("769", ("南城街道", "东城街道", "松山湖")),
    "北京": ("10", ("朝阳区", "海淀区", "东城区", "丰台区")),
    "成都": ("28", ("武侯区", "锦江区", "高新区")),
    "武汉": ("27", ("洪山区", "江汉区", "武昌区")),
}
ZH_ROADS = (
    "人民路", "中山路", "解放路", "建设路", "和平路", "长江路", "科技路", "文化路", "学府路",
    "创新大道", "滨江大道", "世纪大道",
)
EN_CITIES = {  # city: phone area codes (+1), or () for a UK mobile (+44)
    "New York": ("212", "646", "917"),
    "San Francisco": ("415", "628"),
    "Chicago": ("312", "773"),
    "Toronto": ("416", "647"),
    "London": (),
    "Manchester": (),
}
EN_STREETS = (
    "Main Street", "Oak Avenue", "Park Road", "High Street", "King Street", "Queen Street",
    "Market Street", "Church Lane", "Victoria Road", "Elm Street", "Mill Lane", "Station Road",
)
TEAM_CITIES = {
    ("east", False): ("上海", "杭州", "南京", "苏州", "宁波", "合肥"),
    ("south", False): ("广州", "深圳", "厦门", "福州", "东莞"),
    ("key", False): ("北京", "上海", "深圳", "成都", "武汉"),
    ("key", True): tuple(EN_CITIES),
    ("intl", True): tuple(EN_CITIES),
}
TEAM_WEIGHTS = {  # (latin, company): team weights for customers without an account
    (False, True): {"east": 40, "south": 30, "key": 30},
    (False, False): {"east": 55, "south": 40, "key": 5},
    (True, True): {"intl": 70, "key": 30},
    (True, False): {"intl": 95, "key": 5},
}
CN_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "157", "158", "159", "166", "173", "176", "177", "180", "181", "182", "183", "185",
    "186", "187", "188", "189", "198", "199",
)
UK_MOBILE_PREFIXES = ("74", "75", "78")
FREE_MAIL_ZH = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com")
FREE_MAIL_EN = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com")
TITLES_ZH = ("总经理", "采购经理", "财务总监", "IT负责人", "运营总监", "行政主管", "销售经理")
TITLES_EN = (
    "Purchasing Manager", "CFO", "Head of IT", "Operations Director", "Office Manager",
    "Sales Manager", "CEO",
)
NOTES_ZH = ("偏好微信联系", "工作日上午方便联系", "对价格较敏感", "需开具增值税专用发票")
NOTES_EN = ("Prefers email", "Call after 2pm", "Price sensitive", "Needs invoices in USD")
STAGES = {"potential": 14, "new": 14, "growing": 20, "mature": 30, "declining": 12, "churned": 10}
SOURCES = {"erp": 30, "shop": 30, "crm": 25, "event": 10, "referral": 5}
TAGS_ZH = ("VIP", "重点客户", "newsletter", "partner", "展会线索")
TAGS_EN = ("VIP", "newsletter", "partner", "trade-show")
REGION_TAGS = {"east": "华东", "south": "华南"}
CHANNELS = {"online": 45, "store": 20, "sales": 25, "partner": 10}
# Per stage: how many orders (weight) and when in the customer's life they fall (time exponent:
# below 1 leans to recent dates, above 1 to early ones; churned customers stopped buying).
STAGE_ORDERS = {
    "potential": (0.0, 1.0, 1.0),
    "new": (0.3, 0.5, 1.0),
    "growing": (1.2, 0.6, 1.0),
    "mature": (1.5, 1.0, 1.0),
    "declining": (0.8, 1.8, 1.0),
    "churned": (0.5, 1.5, 0.6),
}  # stage: (weight, time exponent, share of the life during which it bought)
ACTIVITIES_ZH = (
    ("call", "电话回访：确认续约意向"), ("call", "售后回访：设备运行正常"),
    ("meeting", "上门拜访：讨论年度采购计划"), ("meeting", "会议纪要：新项目启动"),
    ("email", "邮件跟进：合同条款确认"), ("email", "发送报价单"),
    ("note", "客户投诉：物流延迟"), ("note", "客户反馈：希望增加培训"),
)
ACTIVITIES_EN = (
    ("meeting", "Quarterly business review"), ("call", "Follow-up call about renewal"),
    ("email", "Sent price quote"), ("meeting", "Onboarding meeting"),
    ("note", "Complaint: late delivery"), ("email", "Contract terms confirmed"),
    ("call", "Product demo"), ("note", "Asked for a training session"),
)
BODIES_ZH = ("客户反馈良好，下周再跟进。", "已记录需求，待产品确认。", "对方要求提供案例材料。")
BODIES_EN = ("Positive feedback; follow up next week.", "Logged the request for product.")

CUSTOMER_COLUMNS = (
    "id", "kind", "name", "name_key", "alt_key", "phone", "phone_key", "email", "email_key",
    "address", "city", "title", "website", "industry", "lifecycle_stage", "source", "notes",
    "account_id", "owner_id", "team_id", "created_at", "updated_at",
)
ORDER_COLUMNS = (
    "id", "customer_id", "number", "ordered_at", "amount", "currency", "channel", "status",
)
ACTIVITY_COLUMNS = ("id", "customer_id", "kind", "subject", "body", "occurred_at", "actor_id")
TAG_LINK_COLUMNS = ("customer_id", "tag_id")
EXTERNAL_ID_COLUMNS = ("id", "customer_id", "source", "external_id")
ID_TABLES = ("customers", "orders", "activities", "tags", "customer_external_ids")
LOADED_TABLES = ("customers", "customer_tags", "customer_external_ids", "orders", "activities")
PG_FOREIGN_KEYS = """
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c
WHERE c.contype = 'f' AND c.conrelid = ANY(CAST(:tables AS regclass[]))
ORDER BY 1, 2
"""
PG_PLAIN_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = ANY(CAST(:tables AS regclass[])) AND NOT i.indisunique AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY 1
"""
# fmt: on


def load_demo(
    *,
    engine: Engine,
    customers: int = 2400,
    orders: int = 12000,
    seed: int = 1,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Load a demo company into a migrated database; returns the rows added per table.

    Needs demo mode, because the demo users' passwords are their usernames (``admin``/``admin``).
    May be called again on a database that already has data: users and teams that exist are kept
    as they are and new customers, orders and activities are added after the existing ids.
    Everything happens in one transaction; the same seed gives the same rows on the same day.
    """
    if not current().demo_mode:
        raise InvalidInput({"demo_mode": "required"})
    audit_service.install()
    report = progress or _quiet
    with engine.begin() as conn:
        session = bind(Session(bind=conn), actor=SYSTEM)
        counts = _ensure_staff(session)
        report("users", len(DEMO_USERS), len(DEMO_USERS))
        plan = _Plan(customers=customers, orders=orders, rng=random.Random(seed))
        counts |= _load_rows(conn, session, plan, report)
        audit_service.record(
            session,
            action="demo.load",
            entity="demo",
            entity_id=None,
            details={"seed": seed, **counts},
        )
        session.flush()
        session.close()
    if engine.dialect.name == "postgresql":
        # Mark the new customer rows all-visible, so searches read only the covering indexes.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM customers")
    return counts


def is_loaded(*, engine: Engine) -> bool:
    """Whether a demo company was loaded into this database (a ``demo.load`` audit event)."""
    with engine.connect() as conn:
        found = conn.execute(
            select(AuditEvent.id).where(AuditEvent.action == "demo.load").limit(1)
        ).first()
    return found is not None


def _quiet(_stage: str, _done: int, _total: int) -> None:
    """The default progress callback: say nothing."""


# --- users and teams -----------------------------------------------------------------------


def _ensure_staff(session: Session) -> dict[str, int]:
    """Create the demo teams and users that do not exist yet; count what was added."""
    users_before = {user.username for user in auth_service.list_users(db=session)}
    teams_before = len(auth_service.list_teams(db=session))
    for name in TEAMS.values():
        auth_service.ensure_team(db=session, name=name)
    added = [spec for spec in DEMO_USERS if spec.username not in users_before]
    for spec in added:
        auth_service.create_user(
            db=session,
            username=spec.username,
            password=spec.username,
            role=spec.role,
            display_name=spec.display_name,
            email=f"{spec.username}@demo.clientops.example",
            team_names=[TEAMS[key] for key in spec.teams],
        )
    teams_added = len(auth_service.list_teams(db=session)) - teams_before
    return {"users": len(added), "teams": teams_added}


@dataclass(frozen=True)
class _Staff:
    """Team ids by key and, per team, the members who may own its customers."""

    team_ids: dict[str, int]
    owners: dict[str, list[int | None]]


def _staff(session: Session) -> _Staff:
    """Read back the demo teams and their customer owners (members with a working role)."""
    by_name = {team.name: team for team in auth_service.list_teams(db=session)}
    team_ids: dict[str, int] = {}
    owners: dict[str, list[int | None]] = {}
    for key, name in TEAMS.items():
        team = by_name[name]
        members = sorted(team.members, key=lambda user: user.id)
        working: list[int | None] = [user.id for user in members if user.role in OWNER_ROLES]
        team_ids[key] = team.id
        owners[key] = working or [user.id for user in members] or [None]
    return _Staff(team_ids=team_ids, owners=owners)


# --- the plan, the clock and the ledger ----------------------------------------------------


@dataclass
class _Plan:
    """What to generate, and the random source everything is drawn from."""

    customers: int
    orders: int
    rng: random.Random


def _anchor() -> datetime:
    """The end of the demo history: midnight UTC today (a seed gives the same rows all day)."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class _Clock:
    """Epoch seconds over the last ``YEARS`` years, written as the database stores timestamps."""

    def __init__(self, *, end: datetime, suffix: str) -> None:
        self.end = int(end.timestamp())
        self.start = self.end - YEARS * 365 * DAY
        first = datetime.fromtimestamp(self.start, UTC)
        dates = [first + timedelta(days=n) for n in range(YEARS * 365 + 1)]
        self.days = [f"{d:%Y-%m-%d} " for d in dates]
        self.years = [d.year for d in dates]
        self.times = [
            f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{suffix}" for s in range(DAY)
        ]

    def text(self, ts: int) -> str:
        """The stored text of a timestamp."""
        return self.days[(ts - self.start) // DAY] + self.times[ts % DAY]


@dataclass
class _Ledger:
    """What later passes need about each new customer, kept compact for a million of them."""

    created: array[int] = field(default_factory=lambda: array("q"))
    owner: array[int] = field(default_factory=lambda: array("q"))  # 0: none
    latin: bytearray = field(default_factory=bytearray)
    company: bytearray = field(default_factory=bytearray)
    usd: bytearray = field(default_factory=bytearray)
    stage: bytearray = field(default_factory=bytearray)
    weight: array[float] = field(default_factory=lambda: array("d"))


STAGE_NAMES = tuple(STAGES)


@dataclass(frozen=True)
class _Account:
    """A generated company that later people can work for."""

    id: int
    team: str
    owner: int | None
    city: str
    industry: str
    domain: str
    address: str


# --- writing rows --------------------------------------------------------------------------


class _Sink(Protocol):
    """Where generated rows go, one table at a time, pulled from an iterator as they are made."""

    suffix: str

    def prepare(self) -> None: ...

    def write(self, table: str, columns: Sequence[str], rows: Iterable[Row]) -> None: ...

    def finish(self) -> None: ...


class _CopySink:
    """PostgreSQL: ``COPY ... FROM STDIN`` on the connection's own transaction.

    Checking a foreign key costs more than storing the row, and an index built once is several
    times cheaper than one grown row by row; so the loaded tables' foreign keys and plain indexes
    are set aside for the load and restored from their own definitions at the end (validated),
    all inside the load's transaction: a failed load leaves them as they were.
    """

    suffix = "+00"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        self.restore: list[str] = []

    def prepare(self) -> None:
        """Drop the foreign keys and plain indexes of the loaded tables, remembering them."""
        tables = {"tables": list(LOADED_TABLES)}
        for table, name, definition in self.conn.execute(text(PG_FOREIGN_KEYS), tables):
            self.conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            self.restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for name, definition in self.conn.execute(text(PG_PLAIN_INDEXES), tables):
            self.conn.exec_driver_sql(f"DROP INDEX {name}")
            self.restore.insert(0, definition)

    def write(self, table: str, columns: Sequence[str], rows: Iterable[Row]) -> None:
        """Stream rows with COPY as they are generated: the server works while Python does."""
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with self.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def finish(self) -> None:
        """Rebuild indexes and keys, move the id sequences on, refresh the planner statistics."""
        self.conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        for statement in self.restore:
            self.conn.exec_driver_sql(statement)
        for table in ID_TABLES:
            self.conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            )
        self.conn.exec_driver_sql(f"ANALYZE {', '.join((*ID_TABLES, 'customer_tags'))}")


class _InsertSink:
    """SQLite: ``executemany`` of plain values, already in the stored form (no per-row typing)."""

    suffix = ".000000"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def prepare(self) -> None:
        """Nothing to set aside: SQLite checks keys and grows indexes cheaply."""

    def write(self, table: str, columns: Sequence[str], rows: Iterable[Row]) -> None:
        """Insert the rows, ``BATCH_ROWS`` per ``executemany``."""
        marks = ", ".join("?" * len(columns))
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        iterator = iter(rows)
        while batch := list(islice(iterator, BATCH_ROWS)):
            self.conn.exec_driver_sql(statement, batch)

    def finish(self) -> None:
        """Refresh the planner statistics (SQLite continues after the largest id by itself).

        Customers are analysed in full (a second or two for a million): with sampled figures
        SQLite takes a team for a few rows and sorts a quarter of the table for a list page.
        """
        self.conn.exec_driver_sql("PRAGMA analysis_limit=0")
        self.conn.exec_driver_sql("ANALYZE customers")
        self.conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        for table in ("customer_tags", "customer_external_ids", "orders", "activities"):
            self.conn.exec_driver_sql(f"ANALYZE {table}")


def _sink_for(conn: Connection) -> _Sink:
    """The fastest way to write rows on this database."""
    if conn.dialect.name == "postgresql":
        return _CopySink(conn)
    return _InsertSink(conn)


# --- the load ------------------------------------------------------------------------------


def _load_rows(conn: Connection, session: Session, plan: _Plan, report: Progress) -> dict[str, int]:
    """Generate and write customers (with tags and external ids), then orders, then activities."""
    sink = _sink_for(conn)
    sink.prepare()
    clock = _Clock(end=_anchor(), suffix=sink.suffix)
    maker = _CustomerMaker(plan=plan, clock=clock, staff=_staff(session), start=_next_ids(conn))
    maker.tag_ids, new_tags = _ensure_tags(conn, sink, start=maker.next["tags"])
    counts = {"tags": new_tags, **_write_customers(sink, maker, plan, report)}
    counts["orders"] = _write_orders(sink, maker, plan, report)
    counts["activities"] = _write_activities(sink, maker, plan, report)
    sink.finish()
    return counts


def _next_ids(conn: Connection) -> dict[str, int]:
    """The first free id of each table this load assigns ids in."""
    columns = {
        "customers": Customer.id,
        "orders": Order.id,
        "activities": Activity.id,
        "tags": Tag.id,
        "customer_external_ids": ExternalId.id,
    }
    return {
        name: int(conn.scalar(select(func.max(column))) or 0) + 1
        for name, column in columns.items()
    }


def _ensure_tags(conn: Connection, sink: _Sink, *, start: int) -> tuple[dict[str, int], int]:
    """Ids of the demo tags, inserting the missing ones; also how many were inserted."""
    wanted = dict.fromkeys((*TAGS_ZH, *TAGS_EN, *REGION_TAGS.values()))
    have = {name: tag_id for tag_id, name in conn.execute(select(Tag.id, Tag.name))}
    missing = [name for name in wanted if name not in have]
    rows = [(start + n, name) for n, name in enumerate(missing)]
    if rows:
        sink.write("tags", ("id", "name"), rows)
    return have | {name: tag_id for tag_id, name in rows}, len(rows)


def _lookup(weights: dict[str, int]) -> tuple[str, ...]:
    """A table to draw from with one ``random()``: each key repeated by its weight."""
    return tuple(key for key, weight in weights.items() for _ in range(weight))


def _draw(rng: random.Random, table: Sequence[T]) -> T:
    """One entry of a table, uniformly (cheaper than ``rng.choice``)."""
    return table[int(rng.random() * len(table))]


def _below(rng: random.Random, low: int, high: int) -> int:
    """A whole number in ``[low, high)`` (cheaper than ``rng.randrange``)."""
    return low + int(rng.random() * (high - low))


def _scramble(number: int) -> int:
    """A one-to-one shuffle of numbers below 10**8: unique, unordered-looking email suffixes."""
    return (number * 2_654_435_761 + 12_345_679) % 100_000_000


def _base36(number: int) -> str:
    """A short lower-case code for a number."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    code = ""
    while True:
        number, rest = divmod(number, 36)
        code = digits[rest] + code
        if not number:
            return code


# --- customers -----------------------------------------------------------------------------


class _CustomerMaker:
    """Customer rows, with their tag links and external ids, in batches; fills the ledger."""

    def __init__(self, *, plan: _Plan, clock: _Clock, staff: _Staff, start: dict[str, int]) -> None:
        self.plan, self.rng, self.clock, self.staff = plan, plan.rng, clock, staff
        self.next = dict(start)
        self.first_id = start["customers"]
        self.done = 0
        self.tag_ids: dict[str, int] = {}
        self.accounts: dict[bool, list[_Account]] = {False: [], True: []}
        self.ledger = _Ledger()
        self.stages = _lookup(STAGES)
        self.sources = _lookup(SOURCES)
        self.teams = {key: _lookup(weights) for key, weights in TEAM_WEIGHTS.items()}
        self.surnames = _lookup({f"{char}:{py}": w for char, py, w in SURNAMES})

    def rows(self, size: int, links: list[Row], external: list[Row]) -> Iterator[Row]:
        """The next ``size`` customer rows; their tag links and external ids go to the lists."""
        for _ in range(size):
            row, latin, team = self._customer(self.first_id + self.done)
            links.extend(self._tags(row[0], latin, team))
            external.extend(self._external_ids(row[0], row[15]))
            self.done += 1
            yield row

    def _created(self, cid: int) -> int:
        """Creation time: rising with the id over the past years, busier lately."""
        position = (cid - self.first_id + self.rng.random()) / max(self.plan.customers, 1)
        span = self.clock.end - self.clock.start - DAY
        return self.clock.start + int(span * position**0.75)

    def _customer(self, cid: int) -> tuple[Row, bool, str]:
        """One customer row (in ``CUSTOMER_COLUMNS`` order), its language and its team key."""
        rng = self.rng
        latin, company = rng.random() < 0.4, rng.random() < 0.3
        created = self._created(cid)
        updated = created + int((self.clock.end - 1 - created) * rng.random() ** 3)
        stage, source = _draw(rng, self.stages), _draw(rng, self.sources)
        account = self._account_for(latin) if not company else None
        team, owner, city = self._place(latin, company, account)
        if company:
            body = self._company(cid, latin, city)
            self.accounts[latin].append(_Account(cid, team, owner, city, *body[-3:]))
            contact, industry = body[:-3], body[-3]
        else:
            contact, industry = self._person(cid, latin, city, account)
        self._remember(created, owner, latin, company, stage)
        name, phone, email, address, title, website = contact
        notes = _draw(rng, NOTES_EN if latin else NOTES_ZH) if rng.random() < 0.05 else None
        row = (
            cid,
            "company" if company else "person",
            name,
            name_key(name),
            alt_name_key(name),
            phone,
            phone_key(phone) if phone else None,
            email,
            email,
            address,
            city,
            title,
            website,
            industry,
            stage,
            source,
            notes,
            account.id if account else None,
            owner,
            self.staff.team_ids[team],
            self.clock.text(created),
            self.clock.text(updated),
        )
        return row, latin, team

    def _account_for(self, latin: bool) -> _Account | None:
        """The company a person works for (60% of people), in their language, or None."""
        accounts = self.accounts[latin]
        if not accounts or self.rng.random() >= 0.6:
            return None
        return accounts[int(self.rng.random() * len(accounts))]

    def _place(self, latin: bool, company: bool, account: _Account | None) -> tuple[str, Any, str]:
        """Team key, owner and city: a contact mostly follows its account."""
        rng = self.rng
        if account is not None and rng.random() < 0.9:
            city = (
                account.city if rng.random() < 0.8 else _draw(rng, TEAM_CITIES[account.team, latin])
            )
            return account.team, account.owner, city
        team = _draw(rng, self.teams[latin, company])
        return team, _draw(rng, self.staff.owners[team]), _draw(rng, TEAM_CITIES[team, latin])

    def _remember(
        self, created: int, owner: int | None, latin: bool, company: bool, stage: str
    ) -> None:
        """Note what the order and activity passes need about this customer."""
        rng, ledger = self.rng, self.ledger
        weight, _exponent, _share = STAGE_ORDERS[stage]
        skew = min(rng.paretovariate(1.5) - 1.0, 60.0)  # most buy little, a few a lot
        ledger.created.append(created)
        ledger.owner.append(owner or 0)
        ledger.latin.append(latin)
        ledger.company.append(company)
        ledger.usd.append(latin and rng.random() < 0.7)
        ledger.stage.append(STAGE_NAMES.index(stage))
        ledger.weight.append(skew * weight * (3.0 if company else 1.0))

    # people and companies, in either language

    def _person(
        self, cid: int, latin: bool, city: str, account: _Account | None
    ) -> tuple[tuple[Any, ...], str | None]:
        """(name, phone, email, address, title, website) of a person, and the industry."""
        rng = self.rng
        name, local = self._latin_name() if latin else self._chinese_name()
        if account is not None and rng.random() < 0.6:
            email: str | None = f"{local}@{account.domain}"
        elif rng.random() < 0.85:
            mail = FREE_MAIL_EN if latin else FREE_MAIL_ZH
            email = f"{local}{_scramble(cid)}@{_draw(rng, mail)}"
        else:
            email = None
        phone = self._phone(latin, city, mobile=True) if rng.random() < 0.9 else None
        at_work = account is not None and rng.random() < 0.5
        address = account.address if at_work and account else self._address(latin, city, True)
        titles = TITLES_EN if latin else TITLES_ZH
        title = _draw(rng, titles) if account is not None else None
        industry = account.industry if account is not None else None
        return (name, phone, email, address, title, None), industry

    def _chinese_name(self) -> tuple[str, str]:
        """A Chinese name and its pinyin email local part (``fang.wang``)."""
        rng = self.rng
        surname, surname_py = _draw(rng, self.surnames).split(":")
        chars = [_draw(rng, GIVEN_CHARS) for _ in range(1 if rng.random() < 0.4 else 2)]
        given = "".join(char for char, _py in chars)
        given_py = "".join(py for _char, py in chars)
        return surname + given, f"{given_py}.{surname_py}"

    def _latin_name(self) -> tuple[str, str]:
        """A Latin name and its email local part (``emma.clarke``)."""
        first, last = _draw(self.rng, FIRST_NAMES), _draw(self.rng, LAST_NAMES)
        return f"{first} {last}", f"{first}.{last}".lower()

    def _company(self, cid: int, latin: bool, city: str) -> tuple[Any, ...]:
        """(name, phone, email, address, title, website, industry, domain, address) of a company."""
        rng = self.rng
        word_zh, word_en, industry = _draw(rng, INDUSTRIES)
        code = _base36(_scramble(cid))
        if latin:
            core = _draw(rng, COMPANY_CORES_EN)
            name = f"{core} {word_en} {_draw(rng, EN_SUFFIXES)}"
            domain = f"{core.lower()}-{code}.com"
        else:
            core, core_py = _draw(rng, COMPANY_CORES_ZH)
            prefix = city if rng.random() < 0.8 else ""
            name = f"{prefix}{core}{word_zh}{_draw(rng, ZH_SUFFIXES)}"
            domain = f"{core_py}-{code}.cn"
        email = (
            f"{_draw(rng, ('info', 'sales', 'service'))}@{domain}" if rng.random() < 0.7 else None
        )
        phone = self._phone(latin, city, mobile=False) if rng.random() < 0.75 else None
        address = self._address(latin, city, False)
        return name, phone, email, address, None, f"https://www.{domain}", industry, domain, address

    def _phone(self, latin: bool, city: str, *, mobile: bool) -> str:
        """A valid E.164 number: a Chinese mobile or landline, a US/Canadian or UK number."""
        rng = self.rng
        if not latin:
            if mobile:
                return f"+86{_draw(rng, CN_MOBILE_PREFIXES)}{_below(rng, 0, 10**8):08d}"
            area = ZH_CITIES[city][0]
            rest = 6 if area == "592" else 7  # Xiamen numbers are one digit shorter
            return f"+86{area}{_below(rng, 2, 7)}{_below(rng, 0, 10**rest):0{rest}d}"
        areas = EN_CITIES[city]
        if not areas:
            return f"+44{_draw(rng, UK_MOBILE_PREFIXES)}{_below(rng, 0, 10**8):08d}"
        exchange = _below(rng, 200, 1000)
        if exchange % 100 == 11 or exchange == 555:
            exchange = 234
        return f"+1{_draw(rng, areas)}{exchange}{_below(rng, 0, 10**4):04d}"

    def _address(self, latin: bool, city: str, home: bool) -> str:
        """A street address in the customer's language (a flat for people at home)."""
        rng = self.rng
        if latin:
            flat = f"Apt {_below(rng, 1, 40)}, " if home and rng.random() < 0.4 else ""
            return f"{flat}{_below(rng, 1, 400)} {_draw(rng, EN_STREETS)}"
        district = _draw(rng, ZH_CITIES[city][1])
        street = f"{city}市{district}{_draw(rng, ZH_ROADS)}{_below(rng, 1, 999)}号"
        if home:
            return f"{street}{_below(rng, 1, 30)}栋{_below(rng, 1, 33)}0{_below(rng, 1, 6)}室"
        return street

    def _tags(self, cid: int, latin: bool, team: str) -> list[Row]:
        """Tag links for about 30% of customers: one or two labels of their language and region."""
        rng = self.rng
        if rng.random() >= 0.3:
            return []
        names = [
            *(TAGS_EN if latin else TAGS_ZH),
            *([REGION_TAGS[team]] if team in REGION_TAGS else []),
        ]
        chosen = rng.sample(names, 2 if rng.random() < 0.3 else 1)
        return [(cid, self.tag_ids[name]) for name in chosen]

    def _external_ids(self, cid: int, source: str) -> list[Row]:
        """An ERP number for about half of the customers, a shop account for shop customers."""
        pairs = []
        if source == "erp" or self.rng.random() < 0.3:
            pairs.append(("erp", f"ERP-{cid:06d}"))
        if source == "shop":
            pairs.append(("shop", f"U{_scramble(cid):08d}"))
        rows = []
        for pair in pairs:
            rows.append((self.next["customer_external_ids"], cid, *pair))
            self.next["customer_external_ids"] += 1
        return rows


# --- orders and activities -----------------------------------------------------------------


def _order_counts(rng: random.Random, weights: array[float], total: int) -> array[int]:
    """Orders per customer: proportional to the skewed weights, summing exactly to ``total``."""
    counts = array("q", bytes(8 * len(weights)))
    if total <= 0 or not weights:
        return counts
    cumulative = list(accumulate(weights))
    if cumulative[-1] <= 0:
        cumulative = list(range(1, len(weights) + 1))
    scale = total / cumulative[-1]
    for index, weight in enumerate(weights):
        counts[index] = int(weight * scale)
    rest = total - sum(counts)
    for index in rng.choices(range(len(weights)), cum_weights=cumulative, k=rest):
        counts[index] += 1
    return counts


def _write_customers(
    sink: _Sink, maker: _CustomerMaker, plan: _Plan, report: Progress
) -> dict[str, int]:
    """Write customers in batches, each followed by its tag links and external ids."""
    counts = {"customers": 0, "customer_tags": 0, "customer_external_ids": 0}
    while maker.done < plan.customers:
        size = min(CUSTOMER_BATCH, plan.customers - maker.done)
        links: list[Row] = []
        external: list[Row] = []
        sink.write("customers", CUSTOMER_COLUMNS, maker.rows(size, links, external))
        sink.write("customer_tags", TAG_LINK_COLUMNS, links)
        sink.write("customer_external_ids", EXTERNAL_ID_COLUMNS, external)
        counts["customers"] += size
        counts["customer_tags"] += len(links)
        counts["customer_external_ids"] += len(external)
        report("customers", maker.done, plan.customers)
    return counts


class _Ticker:
    """Calls ``report(done)`` about every ``BATCH_ROWS`` rows, and once more at the end."""

    def __init__(self, report: Callable[[int], None]) -> None:
        self.report, self.done, self.due = report, 0, BATCH_ROWS

    def add(self, count: int) -> None:
        """Count rows made; report when a batch is complete."""
        self.done += count
        if self.done >= self.due:
            self.report(self.done)
            self.due = self.done + BATCH_ROWS

    def finish(self) -> None:
        """Report the final count."""
        self.report(self.done)


def _write_orders(sink: _Sink, maker: _CustomerMaker, plan: _Plan, report: Progress) -> int:
    """Write the orders in one stream; returns how many."""
    counts = _order_counts(plan.rng, maker.ledger.weight, plan.orders)
    tick = _Ticker(lambda done: report("orders", done, plan.orders))
    sink.write("orders", ORDER_COLUMNS, _order_rows(maker, counts, tick))
    tick.finish()
    return tick.done


def _order_rows(maker: _CustomerMaker, counts: array[int], tick: _Ticker) -> Iterator[Row]:
    """Order rows customer by customer (kept in one loop with local names: it runs 10M times)."""
    rnd, gauss, clock, ledger = maker.rng.random, maker.rng.gauss, maker.clock, maker.ledger
    days, years, times, start, end = clock.days, clock.years, clock.times, clock.start, clock.end
    channels, exp = _lookup(CHANNELS), math.exp
    timing = [STAGE_ORDERS[name][1:] for name in STAGE_NAMES]
    order_id = maker.next["orders"]
    for index, count in enumerate(counts):
        if not count:
            continue
        cid, created = maker.first_id + index, ledger.created[index]
        exponent, share = timing[ledger.stage[index]]
        life = (end - 1 - created) * share
        mu = (13.4 if ledger.company[index] else 10.2) - (1.95 if ledger.usd[index] else 0.0)
        currency = "USD" if ledger.usd[index] else "CNY"
        for _ in range(count):
            ts = created + int(life * rnd() ** exponent)
            day = (ts - start) // DAY
            cents = min(int(exp(mu + gauss())), 99_999_999_999)
            yield (
                order_id,
                cid,
                f"SO-{years[day]}-{order_id:08d}",
                days[day] + times[ts % DAY],
                f"{cents // 100}.{cents % 100:02d}",
                currency,
                channels[int(rnd() * 100)],
                "refunded" if rnd() < 0.04 else "paid",
            )
            order_id += 1
        tick.add(count)
    maker.next["orders"] = order_id


def _write_activities(sink: _Sink, maker: _CustomerMaker, plan: _Plan, report: Progress) -> int:
    """Write about two activities per customer (one at large sizes); returns how many."""
    rate = DEMO_ACTIVITY_RATE if plan.customers <= LARGE_DEMO else LARGE_ACTIVITY_RATE
    tick = _Ticker(lambda done: report("activities", done, plan.customers))
    first = maker.next["activities"]
    sink.write("activities", ACTIVITY_COLUMNS, _activity_rows(maker, rate, tick))
    tick.finish()
    return maker.next["activities"] - first


def _activity_rows(maker: _CustomerMaker, rate: float, tick: _Ticker) -> Iterator[Row]:
    """Activity rows, 0 to ``2 * rate`` per customer, after the customer was created.

    Progress counts customers, as the number of activities is known only at the end.
    """
    rng, clock, ledger = maker.rng, maker.clock, maker.ledger
    for index, created in enumerate(ledger.created):
        latin = ledger.latin[index]
        subjects, bodies = (ACTIVITIES_EN, BODIES_EN) if latin else (ACTIVITIES_ZH, BODIES_ZH)
        owner = ledger.owner[index] or None
        for _ in range(int(rng.random() * (2 * rate + 1))):
            kind, subject = _draw(rng, subjects)
            body = _draw(rng, bodies) if rng.random() < 0.5 else None
            at = created + int((clock.end - 1 - created) * rng.random())
            activity_id = maker.next["activities"]
            maker.next["activities"] += 1
            yield (activity_id, maker.first_id + index, kind, subject, body, clock.text(at), owner)
        tick.add(1)
