"""The CRM records the handlers work on, as SQLAlchemy 2 typed models on the engine's metadata.

Master data (customers, products, technicians, warehouses, spare parts, fee standards) is
what the business maintains; case records (complaints, repair requests and orders,
compensations, callbacks, agreements) are what the processes write; finance documents,
stock movements, low-stock alarms and the notification outbox are what they leave behind
for other departments. Stock can never go negative: the database refuses it
(``ck_part_stock_not_negative``) in addition to the conditional update in ``stock.py``.

Money and other fixed-point numbers are stored as scaled integers (``Fixed``), so SQLite and
PostgreSQL keep them exactly and both return the same ``Decimal``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base

CODE = String(64)
NAME = String(200)


class Fixed(TypeDecorator[Decimal]):
    """A decimal with a fixed number of places, stored as an integer count of its smallest unit."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, places: int = 2) -> None:
        super().__init__()
        self.places = places
        self._unit = Decimal(1).scaleb(-places)

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        scaled = (Decimal(str(value)) / self._unit).to_integral_value()
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) * self._unit).quantize(self._unit)


Money = Fixed(2)


# --------------------------------------------------------------------------- master data


class Customer(Base):
    __tablename__ = "crm_customers"
    __table_args__ = (CheckConstraint("tier IN ('A', 'B', 'C')", name="ck_customer_tier"),)

    id: Mapped[str] = mapped_column(CODE, primary_key=True)
    name: Mapped[str] = mapped_column(NAME)
    # A: key accounts, B: regular, C: occasional (doc 003); None is treated as C.
    tier: Mapped[str | None] = mapped_column(String(1))
    contact_name: Mapped[str | None] = mapped_column(NAME)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500))
    city: Mapped[str | None] = mapped_column(String(100))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # User name of the account manager who owns the relationship.
    account_owner: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Place(Base):
    """Known places (cities, districts) with coordinates, for locating a free-text service address."""

    __tablename__ = "crm_places"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)


class ProductModel(Base):
    __tablename__ = "crm_product_models"

    code: Mapped[str] = mapped_column(CODE, primary_key=True)
    name: Mapped[str] = mapped_column(NAME)
    # The technician skill a repair of this model needs.
    skill: Mapped[str] = mapped_column(String(64))
    warranty_months: Mapped[int] = mapped_column(Integer, default=24)


class Product(Base):
    """One sold unit, identified by its serial number."""

    __tablename__ = "crm_products"
    __table_args__ = (Index("ix_crm_products_customer", "customer_id"),)

    serial_number: Mapped[str] = mapped_column(String(100), primary_key=True)
    model_code: Mapped[str] = mapped_column(ForeignKey("crm_product_models.code"))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("crm_customers.id"))
    sold_on: Mapped[date | None] = mapped_column(Date)
    # Last day covered by the manufacturer's warranty (inclusive).
    warranty_end: Mapped[date | None] = mapped_column(Date)


class Warehouse(Base):
    __tablename__ = "crm_warehouses"

    code: Mapped[str] = mapped_column(CODE, primary_key=True)
    name: Mapped[str] = mapped_column(NAME)
    city: Mapped[str] = mapped_column(String(100))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


class Technician(Base):
    __tablename__ = "crm_technicians"

    id: Mapped[str] = mapped_column(CODE, primary_key=True)
    name: Mapped[str] = mapped_column(NAME)
    # The login of the technician, who receives the order in the task list and the outbox.
    user_name: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(40))
    base_city: Mapped[str] = mapped_column(String(100))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    # The van stock / local store the technician draws parts from.
    warehouse_code: Mapped[str | None] = mapped_column(ForeignKey("crm_warehouses.code"))
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    # On leave up to and including this day.
    absent_until: Mapped[date | None] = mapped_column(Date)
    # Open orders a technician can carry before counting as busy.
    capacity: Mapped[int] = mapped_column(Integer, default=4)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TechnicianSkill(Base):
    __tablename__ = "crm_technician_skills"

    technician_id: Mapped[str] = mapped_column(ForeignKey("crm_technicians.id"), primary_key=True)
    skill: Mapped[str] = mapped_column(String(64), primary_key=True)


class SparePart(Base):
    __tablename__ = "crm_spare_parts"

    code: Mapped[str] = mapped_column(CODE, primary_key=True)
    name: Mapped[str] = mapped_column(NAME)
    unit_cost: Mapped[Decimal] = mapped_column(Money)


class PartFit(Base):
    """Which parts fit which product models (what the technician's form offers)."""

    __tablename__ = "crm_part_fits"

    part_code: Mapped[str] = mapped_column(ForeignKey("crm_spare_parts.code"), primary_key=True)
    model_code: Mapped[str] = mapped_column(ForeignKey("crm_product_models.code"), primary_key=True)


class PartStock(Base):
    __tablename__ = "crm_part_stock"
    __table_args__ = (CheckConstraint("quantity >= 0", name="ck_part_stock_not_negative"),)

    warehouse_code: Mapped[str] = mapped_column(ForeignKey("crm_warehouses.code"), primary_key=True)
    part_code: Mapped[str] = mapped_column(ForeignKey("crm_spare_parts.code"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    # Below this the low-stock alarm is raised (§4.10).
    reorder_level: Mapped[int] = mapped_column(Integer, default=0)


class PartMovement(Base):
    """Every change of stock: receive (purchase), issue (to an order), return, transfer."""

    __tablename__ = "crm_part_movements"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_part_movement_quantity"),
        Index("ix_crm_part_movements_order", "order_no", "part_code"),
        Index("ix_crm_part_movements_part", "part_code", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    part_code: Mapped[str] = mapped_column(ForeignKey("crm_spare_parts.code"))
    quantity: Mapped[int] = mapped_column(Integer)
    from_warehouse: Mapped[str | None] = mapped_column(ForeignKey("crm_warehouses.code"))
    to_warehouse: Mapped[str | None] = mapped_column(ForeignKey("crm_warehouses.code"))
    order_no: Mapped[str | None] = mapped_column(String(64))
    # Cost per unit at the time of the movement, so later price changes do not rewrite history.
    unit_cost: Mapped[Decimal | None] = mapped_column(Money)
    reference: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(255))


class LowStockAlarm(Base):
    __tablename__ = "crm_low_stock_alarms"
    __table_args__ = (Index("ix_crm_low_stock_open", "warehouse_code", "part_code", "cleared_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    warehouse_code: Mapped[str] = mapped_column(ForeignKey("crm_warehouses.code"))
    part_code: Mapped[str] = mapped_column(ForeignKey("crm_spare_parts.code"))
    quantity: Mapped[int] = mapped_column(Integer)
    reorder_level: Mapped[int] = mapped_column(Integer)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FeeStandard(Base):
    """Charging rates (§4.6); the one in force on the day of the work applies."""

    __tablename__ = "crm_fee_standards"

    code: Mapped[str] = mapped_column(CODE, primary_key=True)
    name: Mapped[str] = mapped_column(NAME)
    labour_rate: Mapped[Decimal] = mapped_column(Money)  # per hour
    call_out_fee: Mapped[Decimal] = mapped_column(Money)  # per visit
    parts_markup_percent: Mapped[Decimal] = mapped_column(Fixed(2))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


# --------------------------------------------------------------------------- agreements


class Agreement(Base):
    __tablename__ = "crm_agreements"
    __table_args__ = (Index("ix_crm_agreements_customer", "customer_id", "status"),)

    agreement_no: Mapped[str] = mapped_column(CODE, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("crm_customers.id"))
    title: Mapped[str] = mapped_column(NAME)
    # draft | rejected | declined | signed | active | terminated | expired
    status: Mapped[str] = mapped_column(String(20))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)  # last day in force
    renewal_notice_days: Mapped[int] = mapped_column(Integer)
    account_owner: Mapped[str | None] = mapped_column(String(255))
    instance_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # First day no longer in force after a termination.
    terminated_on: Mapped[date | None] = mapped_column(Date)
    termination_reason: Mapped[str | None] = mapped_column(Text)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_note: Mapped[str | None] = mapped_column(Text)


class AgreementVersion(Base):
    """The terms of an agreement; an approved amendment adds a version, earlier ones are kept."""

    __tablename__ = "crm_agreement_versions"

    agreement_no: Mapped[str] = mapped_column(ForeignKey("crm_agreements.agreement_no"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_level: Mapped[str] = mapped_column(String(20))
    annual_fee: Mapped[Decimal] = mapped_column(Money)
    covered_products: Mapped[str] = mapped_column(Text)
    coverage_terms: Mapped[str] = mapped_column(Text)
    effective_from: Mapped[date] = mapped_column(Date)
    summary: Mapped[str | None] = mapped_column(Text)
    document_ref: Mapped[str | None] = mapped_column(String(200))
    signatory: Mapped[str | None] = mapped_column(NAME)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --------------------------------------------------------------------------- cases


class Complaint(Base):
    __tablename__ = "crm_complaints"
    __table_args__ = (Index("ix_crm_complaints_customer", "customer_id", "status"),)

    complaint_no: Mapped[str] = mapped_column(CODE, primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(ForeignKey("crm_customers.id"))
    channel: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(20))
    # received | escalated | closed
    status: Mapped[str] = mapped_column(String(20))
    origin: Mapped[str] = mapped_column(String(20))  # direct | callback
    origin_case_type: Mapped[str | None] = mapped_column(String(20))
    origin_case_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    complaint_valid: Mapped[str | None] = mapped_column(String(20))
    resolution: Mapped[str | None] = mapped_column(Text)
    compensation_status: Mapped[str | None] = mapped_column(String(20))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_contact_resolution: Mapped[bool | None] = mapped_column(Boolean)


class RepairRequest(Base):
    __tablename__ = "crm_repair_requests"
    __table_args__ = (
        Index("ix_crm_repair_requests_serial", "serial_number", "status"),
        Index("ix_crm_repair_requests_customer", "customer_id", "status"),
    )

    request_no: Mapped[str] = mapped_column(CODE, primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(ForeignKey("crm_customers.id"))
    contact_name: Mapped[str] = mapped_column(NAME)
    contact_phone: Mapped[str] = mapped_column(String(40))
    product: Mapped[str] = mapped_column(NAME)
    serial_number: Mapped[str] = mapped_column(String(100))
    fault_description: Mapped[str] = mapped_column(Text)
    service_address: Mapped[str] = mapped_column(String(500))
    # received | confirmed | rejected | closed
    status: Mapped[str] = mapped_column(String(20))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rejection: Mapped[str | None] = mapped_column(String(20))  # invalid | duplicate
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    duplicate_of: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RepairOrder(Base):
    __tablename__ = "crm_repair_orders"
    __table_args__ = (Index("ix_crm_repair_orders_technician", "technician_id", "status"),)

    order_no: Mapped[str] = mapped_column(CODE, primary_key=True)
    request_no: Mapped[str] = mapped_column(ForeignKey("crm_repair_requests.request_no"))
    instance_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(ForeignKey("crm_customers.id"))
    product: Mapped[str] = mapped_column(NAME)
    serial_number: Mapped[str] = mapped_column(String(100))
    service_address: Mapped[str] = mapped_column(String(500))
    # open | assigned | reopened | closed
    status: Mapped[str] = mapped_column(String(20))
    technician_id: Mapped[str | None] = mapped_column(ForeignKey("crm_technicians.id"))
    planned_visit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The approved work (copied when it is priced), for the fault/solution reports (§4.11, §4.12).
    fault_symptom: Mapped[str | None] = mapped_column(Text)
    solution: Mapped[str | None] = mapped_column(Text)
    labour_hours: Mapped[Decimal | None] = mapped_column(Fixed(2))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    coverage: Mapped[str | None] = mapped_column(String(30))
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    reopened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Compensation(Base):
    __tablename__ = "crm_compensations"
    __table_args__ = (Index("ix_crm_compensations_case", "case_type", "case_id"),)

    compensation_no: Mapped[str] = mapped_column(CODE, primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(64))
    case_type: Mapped[str] = mapped_column(String(20))  # complaint | repair | none
    case_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(ForeignKey("crm_customers.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(Text)
    # pending | approved | rejected
    status: Mapped[str] = mapped_column(String(20))
    applicant: Mapped[str | None] = mapped_column(String(255))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejection_reason: Mapped[str | None] = mapped_column(Text)


class CallbackResult(Base):
    """One call to a customer after a case (§4.7); the satisfaction statistics read these (§6)."""

    __tablename__ = "crm_callback_results"
    __table_args__ = (Index("ix_crm_callback_results_case", "case_type", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(String(64))
    case_type: Mapped[str] = mapped_column(String(20))
    case_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    reached: Mapped[bool] = mapped_column(Boolean)
    problem_solved: Mapped[str | None] = mapped_column(String(10))
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    comments: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(20))  # satisfied | dissatisfied | unreachable
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    agent: Mapped[str] = mapped_column(String(255))


class CaseNote(Base):
    """A remark on a case record that is not a step of its own process (e.g. a follow-up complaint)."""

    __tablename__ = "crm_case_notes"
    __table_args__ = (Index("ix_crm_case_notes_case", "case_type", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_type: Mapped[str] = mapped_column(String(20))
    case_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    author: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)


# --------------------------------------------------------------------------- finance


class RepairStatement(Base):
    """The priced repair order posted to finance (§4.6); a recalculation replaces it (revision + 1)."""

    __tablename__ = "crm_repair_statements"
    __table_args__ = (UniqueConstraint("order_no", name="uq_crm_repair_statements_order"),)

    statement_no: Mapped[str] = mapped_column(CODE, primary_key=True)
    order_no: Mapped[str] = mapped_column(ForeignKey("crm_repair_orders.order_no"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("crm_customers.id"))
    fee_standard_code: Mapped[str] = mapped_column(ForeignKey("crm_fee_standards.code"))
    coverage: Mapped[str] = mapped_column(String(30))
    customer_pays: Mapped[str] = mapped_column(String(30))
    parts_cost: Mapped[Decimal] = mapped_column(Money)
    labour_cost: Mapped[Decimal] = mapped_column(Money)
    call_out_fee: Mapped[Decimal] = mapped_column(Money)
    total_cost: Mapped[Decimal] = mapped_column(Money)
    customer_charge: Mapped[Decimal] = mapped_column(Money)
    # The priced lines (parts, labour, call-out) as JSON, as finance sees them.
    lines: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PaymentOrder(Base):
    """An approved compensation for finance to pay (§7.3)."""

    __tablename__ = "crm_payment_orders"
    __table_args__ = (UniqueConstraint("compensation_no", name="uq_crm_payment_orders_compensation"),)

    payment_order_no: Mapped[str] = mapped_column(CODE, primary_key=True)
    compensation_no: Mapped[str] = mapped_column(ForeignKey("crm_compensations.compensation_no"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("crm_customers.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    approved_by: Mapped[str] = mapped_column(String(200))
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --------------------------------------------------------------------------- plumbing


class OutboxMessage(Base):
    """A notification to a customer, a user or a role; a delivery adapter sends it (§13, §14)."""

    __tablename__ = "crm_outbox"
    __table_args__ = (
        Index("ix_crm_outbox_status", "status", "id"),
        Index("ix_crm_outbox_case", "case_type", "case_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # customer | user | role
    recipient_kind: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(255))
    # email | sms | inbox (staff, in the application)
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    case_type: Mapped[str | None] = mapped_column(String(20))
    case_id: Mapped[str | None] = mapped_column(String(64))
    instance_id: Mapped[str | None] = mapped_column(String(64))
    # pending | sent | recorded | failed
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


class NumberSequence(Base):
    """The last number handed out per document series (``CMP-2026`` …), for readable case numbers."""

    __tablename__ = "crm_number_sequences"

    series: Mapped[str] = mapped_column(String(32), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)
