"""The price book (version ``pb-2026.1``): products, volume tiers, bundles, currencies and the discount
authority of a sales rep.

| SKU | product | unit | list (USD) |
|---|---|---|---|
| EP-PLATFORM | Execution Plane platform | seat / year | 1,200 |
| EP-ANALYTICS | Analytics add-on | seat / year | 300 |
| EP-WORKFLOWS | Workflow automation pack | seat / year | 240 |
| EP-ARABIC | Arabic language pack | seat / year | 120 |
| EP-SUPPORT-PREMIUM | Premium support | year | 15,000 |
| EP-ONBOARDING | Onboarding project | project | 8,500 |

Volume tiers (per-seat products, all units at the tier reached): 1-49 list, 50-249 -8 %, 250-999 -15 %,
1,000+ -22 %. Bundles (the one saving most applies, on its own lines, after the tiers): Launch (platform +
analytics + onboarding) -8 %; Suite (platform + two or more add-ons) -5 %. A rep may add up to 10 % on the
subtotal without approval; more, or a total discount off list above 30 %, needs the deal desk; 40 % is the
most anyone may ask for. SAR and AED are pegged to the dollar (3.75, 3.6725).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

PRICE_BOOK_VERSION = "pb-2026.1"
Family = Literal["platform", "addon", "service"]
Currency = Literal["USD", "SAR", "AED"]


class Product(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    name: str
    name_ar: str
    family: Family
    unit: str
    unit_ar: str
    list_price_usd: Decimal
    per_seat: bool
    max_quantity: int


PLATFORM = "EP-PLATFORM"
PRODUCTS: dict[str, Product] = {
    p.sku: p
    for p in (
        Product(
            sku=PLATFORM,
            name="Execution Plane platform",
            name_ar="منصة Execution Plane",
            family="platform",
            unit="seat / year",
            unit_ar="مقعد / سنة",
            list_price_usd=Decimal("1200"),
            per_seat=True,
            max_quantity=100_000,
        ),
        Product(
            sku="EP-ANALYTICS",
            name="Analytics add-on",
            name_ar="إضافة التحليلات",
            family="addon",
            unit="seat / year",
            unit_ar="مقعد / سنة",
            list_price_usd=Decimal("300"),
            per_seat=True,
            max_quantity=100_000,
        ),
        Product(
            sku="EP-WORKFLOWS",
            name="Workflow automation pack",
            name_ar="حزمة أتمتة سير العمل",
            family="addon",
            unit="seat / year",
            unit_ar="مقعد / سنة",
            list_price_usd=Decimal("240"),
            per_seat=True,
            max_quantity=100_000,
        ),
        Product(
            sku="EP-ARABIC",
            name="Arabic language pack",
            name_ar="حزمة اللغة العربية",
            family="addon",
            unit="seat / year",
            unit_ar="مقعد / سنة",
            list_price_usd=Decimal("120"),
            per_seat=True,
            max_quantity=100_000,
        ),
        Product(
            sku="EP-SUPPORT-PREMIUM",
            name="Premium support",
            name_ar="الدعم المتميز",
            family="service",
            unit="year",
            unit_ar="سنة",
            list_price_usd=Decimal("15000"),
            per_seat=False,
            max_quantity=5,
        ),
        Product(
            sku="EP-ONBOARDING",
            name="Onboarding project",
            name_ar="مشروع التهيئة",
            family="service",
            unit="project",
            unit_ar="مشروع",
            list_price_usd=Decimal("8500"),
            per_seat=False,
            max_quantity=10,
        ),
    )
}
SKUS = tuple(PRODUCTS)

# (seats from, discount): all units priced at the tier the quantity reaches.
VOLUME_TIERS: tuple[tuple[int, Decimal], ...] = (
    (1000, Decimal("0.22")),
    (250, Decimal("0.15")),
    (50, Decimal("0.08")),
    (1, Decimal("0")),
)


class Bundle(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    name: str
    name_ar: str
    discount: Decimal


LAUNCH = Bundle(key="launch", name="Launch bundle", name_ar="باقة الإطلاق", discount=Decimal("0.08"))
LAUNCH_SKUS = frozenset({PLATFORM, "EP-ANALYTICS", "EP-ONBOARDING"})
SUITE = Bundle(key="suite", name="Suite bundle", name_ar="الباقة المتكاملة", discount=Decimal("0.05"))
SUITE_MIN_ADDONS = 2

REP_DISCOUNT_LIMIT_PCT = Decimal("10")
TOTAL_DISCOUNT_LIMIT_PCT = Decimal("30")
MAX_REQUESTED_DISCOUNT_PCT = 40
FX_PER_USD: dict[str, Decimal] = {"USD": Decimal("1"), "SAR": Decimal("3.75"), "AED": Decimal("3.6725")}
