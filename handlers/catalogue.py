"""Products and what belongs to them: the model (and so the skill a repair needs), the
warranty, and the spare parts that fit."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .records import PartFit, PartStock, Product, ProductModel, SparePart


def find_product(session: Session, serial_number: str | None) -> Product | None:
    if not serial_number:
        return None
    return session.get(Product, serial_number.strip())


def find_model(session: Session, serial_number: str | None, product_text: str | None) -> ProductModel | None:
    """The model of the unit: from its serial number, else the model code or name in the text."""
    product = find_product(session, serial_number)
    if product is not None:
        return session.get(ProductModel, product.model_code)
    text = (product_text or "").casefold()
    if not text:
        return None
    models = session.scalars(select(ProductModel)).all()
    # A code ("WM-700") is more specific than a name ("Washing machine"): try codes first.
    for model in sorted(models, key=lambda m: -len(m.code)):
        if model.code.casefold() in text:
            return model
    for model in sorted(models, key=lambda m: -len(m.name)):
        if model.name.casefold() in text:
            return model
    return None


def warranty_until(product: Product | None) -> date | None:
    return product.warranty_end if product is not None else None


def in_warranty(product: Product | None, on: date) -> bool:
    end = warranty_until(product)
    return end is not None and on <= end


def part_options(session: Session, model: ProductModel | None) -> list[dict[str, str]]:
    """``{"label", "value"}`` for the technician's form: parts that fit the model, with total stock."""
    stock = (
        select(PartStock.part_code, func.sum(PartStock.quantity).label("quantity"))
        .group_by(PartStock.part_code)
        .subquery()
    )
    query = (
        select(SparePart.code, SparePart.name, func.coalesce(stock.c.quantity, 0))
        .outerjoin(stock, stock.c.part_code == SparePart.code)
        .order_by(SparePart.code)
    )
    if model is not None:
        query = query.join(PartFit, PartFit.part_code == SparePart.code).where(
            PartFit.model_code == model.code
        )
    return [
        {"label": f"{code} {name} ({quantity} in stock)", "value": code}
        for code, name, quantity in session.execute(query)
    ]
