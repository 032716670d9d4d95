"""Tags of a message: rules over its normalised words, English and Arabic. Several may apply, and each says
what the reply is about (``pricing``, ``contract``...), independent of its intent."""

from __future__ import annotations

import re
from functools import cache

from include.services.text.normalize import normalize

TAG_PHRASES: dict[str, tuple[str, ...]] = {
    "pricing": (
        "price",
        "pricing",
        "cost",
        "costs",
        "fee",
        "fees",
        "commission",
        "discount",
        "revenue share",
        "revenue split",
        "invoice",
        "invoices",
        "billed",
        "charged",
        "payment",
        "payments",
        "payout",
        "payouts",
        "vat",
        "budget",
        "expensive",
        "cheaper",
        "سعر",
        "السعر",
        "اسعار",
        "اسعاركم",
        "تكلفه",
        "رسوم",
        "الرسوم",
        "عموله",
        "العموله",
        "خصم",
        "الخصم",
        "فاتوره",
        "الفاتوره",
        "الفواتير",
        "دفعه",
        "الدفع",
        "المستحقات",
        "الضريبه",
        "ميزانيه",
        "الميزانيه",
        "غالي",
        "ارخص",
    ),
    "contract": (
        "contract",
        "agreement",
        "clause",
        "term sheet",
        "terms",
        "sign",
        "signature",
        "signing",
        "legal",
        "indemnity",
        "exclusivity",
        "exclusive",
        "termination",
        "renewal",
        "lock-in",
        "عقد",
        "العقد",
        "اتفاقيه",
        "الاتفاقيه",
        "بند",
        "البند",
        "توقيع",
        "التوقيع",
        "نوقع",
        "الشروط",
        "شروطكم",
        "القانوني",
        "القانونيه",
        "الحصريه",
        "التجديد",
    ),
    "competitor": (
        "competitor",
        "competitors",
        "another provider",
        "alternative",
        "alternatives",
        "current provider",
        "منافس",
        "المنافس",
        "بدائل",
        "المزود",
        "مزود",
    ),
    "urgent": (
        "urgent",
        "urgently",
        "asap",
        "immediately",
        "right away",
        "last warning",
        "fix this now",
        "عاجل",
        "العاجله",
        "فورا",
        "ضروري",
        "حالا",
        "باسرع وقت",
    ),
    "data_privacy": (
        "gdpr",
        "privacy",
        "personal data",
        "customer data",
        "data hosted",
        "confidential",
        "خصوصيه",
        "البيانات",
        "بياناتي",
        "بيانات العملاء",
        "السريه",
    ),
    "scheduling": (
        "today",
        "tomorrow",
        "next week",
        "this week",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "am",
        "pm",
        "calendar",
        "اليوم",
        "بكره",
        "غدا",
        "الاسبوع",
        "الاثنين",
        "الثلاثاء",
        "الاربعاء",
        "الخميس",
        "الجمعه",
        "السبت",
        "الاحد",
        "الساعه",
        "التقويم",
    ),
}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d ()-]{7,}\d(?!\w)")


@cache
def _patterns() -> dict[str, re.Pattern[str]]:
    return {
        tag: re.compile(
            r"(?<![^\W_])(?:"
            + "|".join(re.escape(normalize(p)) for p in sorted(phrases, key=len, reverse=True))
            + r")(?![^\W_])"
        )
        for tag, phrases in TAG_PHRASES.items()
    }


def tags(text: str) -> list[str]:
    """The sorted tags of ``text``; ``contact_details`` when it holds an email address or phone number."""
    normalised = normalize(text)
    found = {tag for tag, pattern in _patterns().items() if pattern.search(normalised)}
    if _EMAIL.search(normalised) or _PHONE.search(normalised):
        found.add("contact_details")
    return sorted(found)
