"""CPQ: a quote from the price book (``pricebook``), in the proposal's currency.

Order of the rules, each on what the previous left: list price (converted at the pegged rate, rounded to
the cent per unit) -> volume tier of each per-seat line -> the one bundle that saves most, on its own lines
-> the rep's requested discount on the subtotal. Every amount is rounded half up to the cent; the totals are
the sums of the rounded lines, so the PDF adds up.

A request the rules refuse (an add-on without the platform, more add-on seats than platform seats, a product
twice, a quantity over the product's maximum) raises ``InvalidQuote`` naming the field, before anything is
recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workflows.proposal_generation.domain.pricebook import (
    FX_PER_USD,
    LAUNCH,
    LAUNCH_SKUS,
    MAX_REQUESTED_DISCOUNT_PCT,
    PLATFORM,
    PRICE_BOOK_VERSION,
    PRODUCTS,
    REP_DISCOUNT_LIMIT_PCT,
    SUITE,
    SUITE_MIN_ADDONS,
    TOTAL_DISCOUNT_LIMIT_PCT,
    VOLUME_TIERS,
    Bundle,
)

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


class InvalidQuote(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Item(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str
    quantity: int = Field(ge=1)


class QuoteLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    name: str
    name_ar: str
    unit: str
    unit_ar: str
    quantity: int
    list_unit_price: Decimal
    list_amount: Decimal
    tier_pct: Decimal
    bundle_pct: Decimal
    net_amount: Decimal = Field(description="after the tier and the bundle, before the rep's discount")


class Quote(BaseModel):
    model_config = ConfigDict(frozen=True)

    price_book_version: str
    currency: str
    lines: list[QuoteLine]
    list_total: Decimal
    tier_savings: Decimal
    bundle: Bundle | None
    bundle_savings: Decimal
    subtotal: Decimal
    requested_discount_pct: Decimal
    requested_savings: Decimal
    net_total: Decimal
    total_discount_pct: Decimal
    needs_approval: bool
    approval_reasons: list[str]

    def summary(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "list_total": str(self.list_total),
            "net_total": str(self.net_total),
            "total_discount_pct": str(self.total_discount_pct),
            "bundle": self.bundle.name if self.bundle else None,
            "needs_approval": self.needs_approval,
            "approval_reasons": self.approval_reasons,
        }


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def tier_for(quantity: int) -> Decimal:
    return next(discount for floor, discount in VOLUME_TIERS if quantity >= floor)


def check_items(items: Sequence[Item]) -> None:
    """The rules a product list must follow; the first broken one raises, naming ``items[i].<field>``."""
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        product = PRODUCTS.get(item.sku)
        if product is None:
            raise InvalidQuote(
                f"items[{index}].sku", f"{item.sku!r} is not in price book {PRICE_BOOK_VERSION}"
            )
        if item.sku in seen:
            raise InvalidQuote(f"items[{index}].sku", f"{item.sku} is already items[{seen[item.sku]}]")
        seen[item.sku] = index
        if item.quantity > product.max_quantity:
            raise InvalidQuote(
                f"items[{index}].quantity", f"at most {product.max_quantity} of {item.sku} ({product.unit})"
            )
    platform = next((item for item in items if item.sku == PLATFORM), None)
    for index, item in enumerate(items):
        if PRODUCTS[item.sku].family != "addon":
            continue
        if platform is None:
            raise InvalidQuote(
                f"items[{index}].sku", f"{item.sku} is an add-on: the proposal needs {PLATFORM}"
            )
        if item.quantity > platform.quantity:
            raise InvalidQuote(
                f"items[{index}].quantity",
                f"{item.quantity} seats of {item.sku} but {platform.quantity} platform seats",
            )


def best_bundle(skus: set[str], amounts: dict[str, Decimal]) -> tuple[Bundle | None, set[str]]:
    """The bundle that saves most on these lines (each on its own lines), or none."""
    offers: list[tuple[Decimal, Bundle, set[str]]] = []
    if skus >= LAUNCH_SKUS:
        offers.append((sum(amounts[s] for s in LAUNCH_SKUS) * LAUNCH.discount, LAUNCH, set(LAUNCH_SKUS)))
    addons = {s for s in skus if PRODUCTS[s].family == "addon"}
    if PLATFORM in skus and len(addons) >= SUITE_MIN_ADDONS:
        suite = {PLATFORM, *addons}
        offers.append((sum(amounts[s] for s in suite) * SUITE.discount, SUITE, suite))
    if not offers:
        return None, set()
    _saving, bundle, lines = max(offers, key=lambda offer: (offer[0], offer[1].key))
    return bundle, lines


def price(items: Sequence[Item], *, requested_discount_pct: Decimal | float, currency: str) -> Quote:
    """The quote of ``items`` (see the module docstring)."""
    check_items(items)
    requested = Decimal(str(requested_discount_pct))
    if not Decimal(0) <= requested <= MAX_REQUESTED_DISCOUNT_PCT:
        raise InvalidQuote("requested_discount_pct", f"between 0 and {MAX_REQUESTED_DISCOUNT_PCT}")
    if currency not in FX_PER_USD:
        raise InvalidQuote("currency", f"one of {sorted(FX_PER_USD)}")
    rate = FX_PER_USD[currency]
    after_tier: dict[str, Decimal] = {}
    lists: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    for item in items:
        product = PRODUCTS[item.sku]
        unit = cents(product.list_price_usd * rate)
        tier = tier_for(item.quantity) if product.per_seat else Decimal(0)
        list_amount = unit * item.quantity
        lists[item.sku] = (unit, list_amount, tier)
        after_tier[item.sku] = cents(list_amount * (1 - tier))
    bundle, bundled = best_bundle({item.sku for item in items}, after_tier)
    lines = []
    for item in items:
        product = PRODUCTS[item.sku]
        unit, list_amount, tier = lists[item.sku]
        bundle_pct = bundle.discount if bundle and item.sku in bundled else Decimal(0)
        lines.append(
            QuoteLine(
                sku=item.sku,
                name=product.name,
                name_ar=product.name_ar,
                unit=product.unit,
                unit_ar=product.unit_ar,
                quantity=item.quantity,
                list_unit_price=unit,
                list_amount=list_amount,
                tier_pct=tier * HUNDRED,
                bundle_pct=bundle_pct * HUNDRED,
                net_amount=cents(after_tier[item.sku] * (1 - bundle_pct)),
            )
        )
    list_total = sum((line.list_amount for line in lines), Decimal(0))
    tiered_total = sum(after_tier.values(), Decimal(0))
    subtotal = sum((line.net_amount for line in lines), Decimal(0))
    net_total = cents(subtotal * (1 - requested / HUNDRED))
    total_pct = (HUNDRED * (1 - net_total / list_total)).quantize(CENT, rounding=ROUND_HALF_UP)
    reasons = []
    if requested > REP_DISCOUNT_LIMIT_PCT:
        reasons.append(f"requested discount {requested:g} % is above the rep's {REP_DISCOUNT_LIMIT_PCT:g} %")
    if total_pct > TOTAL_DISCOUNT_LIMIT_PCT:
        reasons.append(f"total discount {total_pct:g} % off list is above {TOTAL_DISCOUNT_LIMIT_PCT:g} %")
    return Quote(
        price_book_version=PRICE_BOOK_VERSION,
        currency=currency,
        lines=lines,
        list_total=list_total,
        tier_savings=list_total - tiered_total,
        bundle=bundle,
        bundle_savings=tiered_total - subtotal,
        subtotal=subtotal,
        requested_discount_pct=requested,
        requested_savings=subtotal - net_total,
        net_total=net_total,
        total_discount_pct=total_pct,
        needs_approval=bool(reasons),
        approval_reasons=reasons,
    )
