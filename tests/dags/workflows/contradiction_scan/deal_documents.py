# ruff: noqa: RUF001  (the documents are in Arabic, with Arabic digits)
"""Real-looking documents of one deal (the acquisition of a Saudi logistics company), shared by the domain,
step and DAG tests: a term sheet, signed terms in Arabic (Arabic digits), DD findings and an IC memo, with
the conflicts a reviewer would find between them, and a set that agrees throughout."""

from __future__ import annotations

TERM_SHEET = """TERM SHEET - PROPOSED ACQUISITION OF NAJD LOGISTICS COMPANY
Strictly confidential. Non-binding, save for exclusivity and confidentiality.

This term sheet is made between Gulf Ventures LLC (the "Buyer") and Najd Holding Company (the "Seller").
Target: Najd Logistics Company
Purchase price: USD 12,500,000 on a cash-free, debt-free basis
Closing date: 31 March 2027
Long-stop date: 30 June 2027
Exclusivity: the Seller grants the Buyer an exclusivity period of 60 days from signature
Territory: Saudi Arabia, United Arab Emirates
Governing law: the laws of the Dubai International Financial Centre
"""

# The signed terms disagree with the term sheet on the price (11.8m), exclusivity (90 days) and territory
# (Qatar added); the closing date agrees (written in Arabic digits and an Arabic month name).
SIGNED_TERMS_AR = """الشروط الموقعة - الاستحواذ على شركة نجد للخدمات اللوجستية
المشتري: شركة الخليج للاستثمار
سعر الشراء: ١١٫٨ مليون دولار أمريكي
تاريخ الإغلاق: ٣١ مارس ٢٠٢٧
حصرية لمدة ٩٠ يوماً من تاريخ التوقيع
الإقليم: المملكة العربية السعودية والإمارات وقطر
"""

DD_FINDINGS = """DD FINDINGS - NAJD LOGISTICS COMPANY (legal and financial workstreams)
F-01 (high): two distribution contracts in the GCC contain change-of-control clauses.
F-02 (medium): unrecorded liability of USD 2,000,000 for end-of-service benefits.
F-03 (low): the Riyadh trade licence was renewed until 2028-01-15.
"""

# The IC memo holds the term sheet's price (and an adjusted one): no price conflict with the term sheet.
IC_MEMO = """INVESTMENT COMMITTEE MEMO - PROJECT NAJD
Recommendation: proceed, subject to the end-of-service liability being priced in
Price put to the committee: USD 12,500,000, to be adjusted to USD 10,500,000 for finding F-02
Expected closing: March 31, 2027
Territory of the platform: the Kingdom of Saudi Arabia and the UAE
"""

# What the CRM's deal record holds (fields patched into the sandbox's CRM): a later closing date and
# English law.
CRM_FIELDS = {
    "amount_usd": 12_500_000,
    "currency": "USD",
    "buyer": "Gulf Ventures L.L.C.",
    "closing_date": "2027-04-30",
    "territory": ["Saudi Arabia", "United Arab Emirates"],
    "governing_law": "English law",
}

# A deal whose documents agree: the same facts, written differently.
CLEAN_TERM_SHEET = """TERM SHEET - PARTNERSHIP WITH RED SEA FOODS
Red Sea Foods Ltd (the "Company") and Tihama Capital PJSC (the "Investor") agree as follows.
Consideration: SAR 45,000,000
Completion date: 15/09/2027
Exclusivity: none; this arrangement is non-exclusive
Territory: Saudi Arabia
"""
CLEAN_SIGNED_TERMS = """SIGNED TERMS - RED SEA FOODS
Investor: TIHAMA CAPITAL P.J.S.C.
Purchase price: 45 million Saudi riyals
Closing: 15 September 2027
The distribution arrangement is non-exclusive.
Territory: Saudi Arabia
"""
CLEAN_CRM_FIELDS = {
    "amount_usd": None,
    "amount": "SAR 45,000,000",
    "closing_date": "2027-09-15",
    "territory": ["Saudi Arabia"],
}
