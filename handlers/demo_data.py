"""A small, realistic data set so a newcomer can walk every process at once (``make run``).

Customers of each tier in four cities, their appliances (some in warranty, some not), two
service agreements in force, technicians with different skills in those cities, three
warehouses with spare parts (a few close to their reorder level), the fee standards, and a
user for every role. Dates are relative to the day it is loaded, so warranties and agreements
are in the same state whenever a demo starts.

Loading is idempotent: a record that exists (by its key) is left as it is, so loading again
never duplicates anything nor undoes what people did in the demo. The command line refuses to
load it into a database named by ``DATABASE_URL`` unless asked (api/cli_demo.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.db import Base, Database
from engine.users import UserDirectory

from .records import (
    Agreement,
    AgreementVersion,
    Customer,
    FeeStandard,
    PartFit,
    PartStock,
    Place,
    Product,
    ProductModel,
    SparePart,
    Technician,
    TechnicianSkill,
    Warehouse,
)

D = Decimal

PLACES = [
    ("Beijing", 39.9042, 116.4074),
    ("Chaoyang", 39.9219, 116.4436),
    ("Haidian", 39.9593, 116.2981),
    ("Tongzhou", 39.9093, 116.6570),
    ("Shanghai", 31.2304, 121.4737),
    ("Pudong", 31.2215, 121.5440),
    ("Xuhui", 31.1885, 121.4365),
    ("Minhang", 31.1129, 121.3817),
    ("Hangzhou", 30.2741, 120.1551),
    ("Suzhou", 31.2989, 120.5853),
    ("Guangzhou", 23.1291, 113.2644),
    ("Tianhe", 23.1353, 113.3290),
    ("Shenzhen", 22.5431, 114.0579),
    ("Nanshan", 22.5329, 113.9305),
]

WAREHOUSES = [
    ("WH-BJ", "Beijing service store", "Beijing", 39.8650, 116.3790),
    ("WH-SH", "Shanghai central warehouse", "Shanghai", 31.2520, 121.4530),
    ("WH-GZ", "Guangzhou south China warehouse", "Guangzhou", 23.1120, 113.2500),
]

# code, name, skill, warranty months
MODELS = [
    ("WM-700", "Front-load washing machine WM-700", "laundry", 24),
    ("AC-3500", "Split air conditioner AC-3500", "hvac", 36),
    ("RF-450", "Refrigerator RF-450", "refrigeration", 24),
    ("DW-60", "Dishwasher DW-60", "dishwasher", 24),
]

# code, name, unit cost, models it fits
PARTS = [
    ("P-WM-BELT", "Drum belt", D("45.00"), ["WM-700"]),
    ("P-WM-PUMP", "Drain pump", D("120.00"), ["WM-700"]),
    ("P-WM-BOARD", "Control board", D("380.00"), ["WM-700"]),
    ("P-AC-CAP", "Compressor capacitor", D("35.00"), ["AC-3500"]),
    ("P-AC-FAN", "Outdoor fan motor", D("210.00"), ["AC-3500"]),
    ("P-AC-GAS", "Refrigerant R32, 1 kg", D("90.00"), ["AC-3500"]),
    ("P-RF-THERM", "Thermostat", D("65.00"), ["RF-450"]),
    ("P-RF-SEAL", "Door seal", D("55.00"), ["RF-450"]),
    ("P-DW-PUMP", "Circulation pump", D("160.00"), ["DW-60"]),
    ("P-DW-HEAT", "Heating element", D("140.00"), ["DW-60"]),
    ("P-GEN-FUSE", "Mains fuse set", D("8.50"), ["WM-700", "AC-3500", "RF-450", "DW-60"]),
]

# warehouse: {part: (quantity, reorder level)}
STOCK = {
    "WH-BJ": {
        "P-WM-BELT": (6, 3),
        "P-WM-PUMP": (4, 2),
        "P-WM-BOARD": (1, 1),
        "P-AC-CAP": (10, 4),
        "P-AC-FAN": (2, 2),
        "P-AC-GAS": (8, 3),
        "P-RF-THERM": (3, 2),
        "P-RF-SEAL": (5, 2),
        "P-DW-PUMP": (2, 1),
        "P-DW-HEAT": (2, 1),
        "P-GEN-FUSE": (40, 10),
    },
    "WH-SH": {
        "P-WM-BELT": (12, 4),
        "P-WM-PUMP": (6, 3),
        "P-WM-BOARD": (3, 1),
        "P-AC-CAP": (15, 5),
        "P-AC-FAN": (4, 2),
        "P-AC-GAS": (12, 4),
        "P-RF-THERM": (5, 2),
        "P-RF-SEAL": (6, 2),
        "P-DW-PUMP": (3, 1),
        "P-DW-HEAT": (1, 1),
        "P-GEN-FUSE": (60, 15),
    },
    "WH-GZ": {
        "P-WM-BELT": (5, 3),
        "P-WM-PUMP": (2, 2),
        "P-AC-CAP": (20, 6),
        "P-AC-FAN": (6, 2),
        "P-AC-GAS": (15, 5),
        "P-RF-THERM": (2, 2),
        "P-RF-SEAL": (3, 2),
        "P-GEN-FUSE": (30, 10),
    },
}

# id, name, user, phone, city, lat, lon, warehouse, skills, capacity
TECHNICIANS = [
    (
        "T-BJ-01",
        "Zhang Wei",
        "zhang.wei",
        "+86 138 0100 0001",
        "Beijing",
        39.9289,
        116.3883,
        "WH-BJ",
        ["laundry", "dishwasher"],
        4,
    ),
    (
        "T-BJ-02",
        "Liu Yang",
        "liu.yang",
        "+86 138 0100 0002",
        "Beijing",
        39.9830,
        116.3160,
        "WH-BJ",
        ["hvac", "refrigeration"],
        4,
    ),
    (
        "T-BJ-03",
        "Ma Lin",
        "ma.lin",
        "+86 138 0100 0003",
        "Beijing",
        39.9050,
        116.6400,
        "WH-BJ",
        ["laundry", "refrigeration"],
        3,
    ),
    (
        "T-SH-01",
        "Zhao Lei",
        "zhao.lei",
        "+86 139 2100 0001",
        "Shanghai",
        31.2250,
        121.5300,
        "WH-SH",
        ["hvac", "laundry"],
        4,
    ),
    (
        "T-SH-02",
        "Sun Li",
        "sun.li",
        "+86 139 2100 0002",
        "Shanghai",
        31.1950,
        121.4400,
        "WH-SH",
        ["refrigeration", "dishwasher"],
        4,
    ),
    (
        "T-GZ-01",
        "Huang Min",
        "huang.min",
        "+86 137 2000 0001",
        "Guangzhou",
        23.1300,
        113.3200,
        "WH-GZ",
        ["laundry", "hvac", "refrigeration"],
        5,
    ),
    (
        "T-SZ-01",
        "Zhou Qiang",
        "zhou.qiang",
        "+86 137 5500 0001",
        "Shenzhen",
        22.5400,
        113.9400,
        "WH-GZ",
        ["hvac"],
        4,
    ),
]

ACCOUNT_MANAGER = "xu.ming"

# id, name, tier, contact, phone, email, address, city, lat, lon
CUSTOMERS = [
    (
        "CUST-A-001",
        "Beijing Huaxin Hotel Group",
        "A",
        "Wang Jian",
        "+86 10 6500 1001",
        "facilities@huaxin-hotels.example",
        "88 Jianguo Road, Chaoyang, Beijing",
        "Beijing",
        39.9087,
        116.4605,
    ),
    (
        "CUST-A-002",
        "Pudong Harbour Medical Centre",
        "A",
        "Dr. Lu Yan",
        "+86 21 5888 2002",
        "operations@pdhmc.example",
        "1200 Century Avenue, Pudong, Shanghai",
        "Shanghai",
        31.2297,
        121.5380,
    ),
    (
        "CUST-B-001",
        "Tianhe Garden Restaurants Ltd.",
        "B",
        "Guo Mei",
        "+86 20 3888 3003",
        "office@tianhe-garden.example",
        "15 Tiyu West Road, Tianhe, Guangzhou",
        "Guangzhou",
        23.1376,
        113.3235,
    ),
    (
        "CUST-B-002",
        "West Lake Residences Property Management",
        "B",
        "Shen Tao",
        "+86 571 8777 4004",
        "service@westlake-res.example",
        "9 Beishan Road, Hangzhou",
        "Hangzhou",
        30.2610,
        120.1460,
    ),
    (
        "CUST-C-001",
        "Wang Fang",
        "C",
        "Wang Fang",
        "+86 139 1000 5005",
        "wang.fang@mail.example",
        "Room 502, 3 Zhongguancun Street, Haidian, Beijing",
        "Beijing",
        39.9835,
        116.3100,
    ),
    (
        "CUST-C-002",
        "Li Wei",
        "C",
        "Li Wei",
        "+86 139 2000 6006",
        None,
        "Flat 1801, 66 Tianyaoqiao Road, Xuhui, Shanghai",
        "Shanghai",
        31.1880,
        121.4370,
    ),
    (
        "CUST-C-003",
        "Chen Jing",
        None,
        "Chen Jing",
        "+86 139 3000 7007",
        "chen.jing@mail.example",
        "12 Keyuan Road, Nanshan, Shenzhen",
        "Shenzhen",
        22.5340,
        113.9440,
    ),
]

# serial, model, customer, sold days ago, warranty left in days (negative: expired)
PRODUCTS = [
    ("WM7-2024-000187", "WM-700", "CUST-A-001", 300, 430),
    ("AC35-2022-004410", "AC-3500", "CUST-A-001", 1200, -105),
    ("DW60-2023-000921", "DW-60", "CUST-A-001", 800, -70),
    ("RF45-2025-001337", "RF-450", "CUST-A-002", 120, 610),
    ("AC35-2023-008812", "AC-3500", "CUST-A-002", 700, 395),
    ("AC35-2021-002231", "AC-3500", "CUST-B-001", 1500, -405),
    ("RF45-2021-000455", "RF-450", "CUST-B-001", 1400, -670),
    ("WM7-2022-000932", "WM-700", "CUST-B-002", 1000, -270),
    ("WM7-2023-004471", "WM-700", "CUST-C-001", 900, -170),
    ("RF45-2024-000812", "RF-450", "CUST-C-002", 400, 330),
    ("AC35-2020-000077", "AC-3500", "CUST-C-003", 2000, -905),
]

# agreement, customer, title, level, fee, covered products, started days ago, months
AGREEMENTS = [
    (
        "AGR-DEMO-001",
        "CUST-A-001",
        "Hotel appliances full service",
        "premium",
        D("48000.00"),
        "all",
        "Parts and labour for every appliance on site; 4-hour response.",
        200,
    ),
    (
        "AGR-DEMO-002",
        "CUST-B-001",
        "Kitchen air conditioning maintenance",
        "basic",
        D("6800.00"),
        "AC-3500",
        "Labour and call-out for the air conditioners; parts charged.",
        90,
    ),
]


@dataclass(frozen=True)
class DemoUser:
    name: str
    password: str
    roles: tuple[str, ...]
    display_name: str


# Demo passwords are public (printed by `make run`, in the README); never load them into production.
DEMO_USERS = [
    DemoUser("admin", "demo-admin", ("admin",), "Administrator"),
    DemoUser("li.na", "demo-agent", ("agent",), "Li Na (call centre)"),
    DemoUser("chen.hao", "demo-complaints", ("complaint_handler",), "Chen Hao (complaints)"),
    DemoUser("wu.fang", "demo-dispatch", ("dispatcher",), "Wu Fang (dispatch)"),
    *(DemoUser(t[2], "demo-technician", ("technician",), f"{t[1]} (technician)") for t in TECHNICIANS),
    DemoUser("ma.jun", "demo-manager", ("service_manager",), "Ma Jun (service manager)"),
    DemoUser("gao.yan", "demo-director", ("director",), "Gao Yan (director)"),
    DemoUser("he.ping", "demo-finance", ("finance",), "He Ping (finance)"),
    DemoUser(ACCOUNT_MANAGER, "demo-accounts", ("account_manager",), "Xu Ming (key accounts)"),
    DemoUser("lin.design", "demo-designer", ("designer",), "Lin (process designer)"),
    DemoUser("qian.audit", "demo-auditor", ("auditor",), "Qian (auditor)"),
]


@dataclass
class LoadReport:
    added: dict[str, int]
    users_added: list[str]

    @property
    def records_added(self) -> int:
        return sum(self.added.values())


class _Loader:
    def __init__(self, session: Session, today: date, now: datetime) -> None:
        self.session = session
        self.today = today
        self.now = now
        self.added: dict[str, int] = {}

    def add(self, record: Base, *key: Any) -> None:
        """Insert ``record`` unless a row with its primary key exists."""
        if self.session.get(type(record), key if len(key) > 1 else key[0]) is None:
            self.session.add(record)
            self.added[type(record).__tablename__] = self.added.get(type(record).__tablename__, 0) + 1

    def master_data(self) -> None:
        for name, lat, lon in PLACES:
            self.add(Place(name=name, latitude=lat, longitude=lon), name)
        for code, name, city, lat, lon in WAREHOUSES:
            self.add(Warehouse(code=code, name=name, city=city, latitude=lat, longitude=lon), code)
        for code, name, skill, months in MODELS:
            self.add(ProductModel(code=code, name=name, skill=skill, warranty_months=months), code)
        self.session.flush()
        for code, name, cost, fits in PARTS:
            self.add(SparePart(code=code, name=name, unit_cost=cost), code)
            self.session.flush()
            for model in fits:
                self.add(PartFit(part_code=code, model_code=model), code, model)
        for warehouse, parts in STOCK.items():
            for part, (quantity, level) in parts.items():
                self.add(
                    PartStock(
                        warehouse_code=warehouse, part_code=part, quantity=quantity, reorder_level=level
                    ),
                    warehouse,
                    part,
                )
        year = self.today.year
        self.add(
            FeeStandard(
                code=f"FS-{year - 1}",
                name=f"Service rates {year - 1}",
                labour_rate=D("120.00"),
                call_out_fee=D("80.00"),
                parts_markup_percent=D("15.00"),
                valid_from=date(year - 1, 1, 1),
                valid_to=date(year - 1, 12, 31),
            ),
            f"FS-{year - 1}",
        )
        self.add(
            FeeStandard(
                code=f"FS-{year}",
                name=f"Service rates {year}",
                labour_rate=D("130.00"),
                call_out_fee=D("90.00"),
                parts_markup_percent=D("15.00"),
                valid_from=date(year, 1, 1),
                valid_to=None,
            ),
            f"FS-{year}",
        )

    def people(self) -> None:
        for tid, name, user, phone, city, lat, lon, warehouse, skills, capacity in TECHNICIANS:
            self.add(
                Technician(
                    id=tid,
                    name=name,
                    user_name=user,
                    phone=phone,
                    base_city=city,
                    latitude=lat,
                    longitude=lon,
                    warehouse_code=warehouse,
                    on_duty=True,
                    capacity=capacity,
                    active=True,
                ),
                tid,
            )
            self.session.flush()
            for skill in skills:
                self.add(TechnicianSkill(technician_id=tid, skill=skill), tid, skill)
        for cid, name, tier, contact, phone, email, address, city, lat, lon in CUSTOMERS:
            self.add(
                Customer(
                    id=cid,
                    name=name,
                    tier=tier,
                    contact_name=contact,
                    phone=phone,
                    email=email,
                    address=address,
                    city=city,
                    latitude=lat,
                    longitude=lon,
                    account_owner=ACCOUNT_MANAGER if tier in ("A", "B") else None,
                    created_at=self.now,
                ),
                cid,
            )
        self.session.flush()

    def installed_base(self) -> None:
        for serial, model, customer, sold_ago, warranty_left in PRODUCTS:
            self.add(
                Product(
                    serial_number=serial,
                    model_code=model,
                    customer_id=customer,
                    sold_on=self.today - timedelta(days=sold_ago),
                    warranty_end=self.today + timedelta(days=warranty_left),
                ),
                serial,
            )
        for number, customer, title, level, fee, covered, terms, started_ago in AGREEMENTS:
            start = self.today - timedelta(days=started_ago)
            end = start + timedelta(days=364)  # one year, both days included
            self.add(
                Agreement(
                    agreement_no=number,
                    customer_id=customer,
                    title=title,
                    status="active",
                    start_date=start,
                    end_date=end,
                    renewal_notice_days=60,
                    account_owner=ACCOUNT_MANAGER,
                    created_at=self.now,
                    signed_at=self.now,
                    activated_at=self.now,
                ),
                number,
            )
            self.session.flush()
            self.add(
                AgreementVersion(
                    agreement_no=number,
                    version=1,
                    service_level=level,
                    annual_fee=fee,
                    covered_products=covered,
                    coverage_terms=terms,
                    effective_from=start,
                    summary="Initial terms (demo data)",
                    signatory="Demo signatory",
                    document_ref=f"{number}.pdf",
                    recorded_at=self.now,
                ),
                number,
                1,
            )


def load_records(session: Session, today: date, now: datetime) -> dict[str, int]:
    """Insert the demo records that are missing; returns how many were added per table."""
    loader = _Loader(session, today, now)
    loader.master_data()
    loader.people()
    loader.installed_base()
    session.flush()
    return loader.added


def has_crm_records(db: Database) -> bool:
    with db.transaction(write=False) as conn:
        return bool(conn.execute(select(func.count()).select_from(Customer)).scalar())


def create_users(directory: UserDirectory, actor: Actor) -> list[str]:
    """Create the demo users that do not exist yet; returns their names."""
    created = []
    for user in DEMO_USERS:
        if directory.account_by_name(user.name) is None:
            directory.create_user(
                actor, user.name, user.password, list(user.roles), display_name=user.display_name
            )
            created.append(user.name)
    return created


def load(db: Database, users: UserDirectory | None, today: date, now: datetime) -> LoadReport:
    """Load the records in one transaction, then the users (each its own, through the directory)."""
    with db.transaction() as conn:
        session = Session(bind=conn)
        try:
            added = load_records(session, today, now)
        finally:
            session.close()
    created = create_users(users, Actor.operator("demo-data")) if users is not None else []
    return LoadReport(added, created)
