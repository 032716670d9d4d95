# ruff: noqa: RUF001, RUF002  (Arabic digits, separators and quotation marks are what this reads)
"""The facts deterministic checks compare, read line by line from a document's text, in English or Arabic:

- **amounts**: the price or consideration (``price``), with its currency: ``USD 12,500,000``, ``$12.5m``,
  ``12.5 million US dollars``, ``١٢٫٥ مليون دولار أمريكي``, ``٤٥٬٠٠٠٬٠٠٠ ريال سعودي``;
- **dates**: the closing (``closing_date``), long-stop (``long_stop_date``) and effective
  (``effective_date``) dates: ``2027-03-31``, ``31/03/2027`` (day first, as the region and the UK write
  it), ``31 March 2027``, ``March 31, 2027``, ``٣١ مارس ٢٠٢٧``, ``٣١ آذار ٢٠٢٧``;
- **parties**: who is the buyer, the seller and the target (``Buyer: Gulf Ventures LLC``,
  ``Gulf Ventures LLC (the "Buyer")``, ``المشتري: شركة الخليج للاستثمار``);
- **exclusivity**: exclusive or not, and for how long (``exclusivity period of 60 days``, ``non-exclusive``,
  ``حصرية لمدة ٩٠ يوماً``, ``غير حصري``);
- **territory**: the countries a line about the territory names (``Territory: Saudi Arabia and the UAE``,
  ``GCC``, ``الإقليم: المملكة العربية السعودية والإمارات``).

A fact is only read from a line that says what it is about (a label or a keyword): a DD finding's
``liability of USD 2,000,000`` is not the deal's price. Each fact keeps its line number and the line
itself: the quote and location a conflict is reported with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from workflows.contradiction_scan.domain.numerals import ascii_digits

# ----------------------------------------------------------------------------- what a line is about
# Before (?<!...) and after (?!...) a keyword: not inside a longer word (\w covers Arabic letters).
_B, _E = r"(?<!\w)", r"(?!\w)"


def _words(*words: str) -> re.Pattern[str]:
    return re.compile(_B + "(?:" + "|".join(words) + ")" + _E, re.IGNORECASE)


TOPIC_WORDS: dict[str, re.Pattern[str]] = {
    "price": _words(
        r"purchase\s+price",
        r"consideration",
        r"price",
        r"deal\s+value",
        r"offer\s+value",
        r"enterprise\s+value",
        r"(?:deal|offer|total)\s+amount",
        r"سعر(?:\s+الشراء)?",
        r"الثمن",
        r"ثمن",
        r"المقابل",
        r"قيمة\s+الصفقة",
        r"مبلغ\s+الصفقة",
    ),
    "long_stop_date": _words(r"long[-\s]?stop(?:\s+date)?", r"التاريخ\s+النهائي", r"الموعد\s+النهائي"),
    "closing_date": _words(
        r"closing(?:\s+date)?", r"completion(?:\s+date)?", r"الإغلاق", r"الاغلاق", r"الإتمام", r"إتمام"
    ),
    "effective_date": _words(r"effective(?:\s+date)?", r"commencement", r"تاريخ\s+السريان", r"يسري"),
    "exclusivity": _words(r"exclusiv\w*", r"non[-\s]?exclusiv\w*", r"حصري\w*", r"الحصري\w*"),
    "territory": _words(
        r"territor(?:y|ies)", r"region", r"الإقليم", r"الاقليم", r"النطاق\s+الجغرافي", r"المنطقة"
    ),
}

# ----------------------------------------------------------------------------- amounts
_CURRENCY_BEFORE = {
    "usd": "USD", "us$": "USD", "$": "USD", "sar": "SAR", "sr": "SAR", "aed": "AED",
    "eur": "EUR", "€": "EUR", "gbp": "GBP", "£": "GBP", "egp": "EGP", "qar": "QAR", "kwd": "KWD",
}  # fmt: skip
_CURRENCY_AFTER = [
    (r"usd|us\s+dollars?|dollars?|دولار(?:\s+أمريكي|\s+امريكي)?", "USD"),
    (r"sar|saudi\s+riyals?|riyals?|ريال(?:\s+سعودي)?|ريالا(?:\s+سعوديا)?", "SAR"),
    (r"aed|dirhams?|درهم(?:\s+إماراتي|\s+اماراتي)?", "AED"),
    (r"eur|euros?|يورو", "EUR"),
    (r"gbp|pounds?\s+sterling|جنيه\s+إسترليني", "GBP"),
    (r"egp|egyptian\s+pounds?|جنيه(?:\s+مصري)?", "EGP"),
    (r"qar|qatari\s+riyals?|ريال\s+قطري", "QAR"),
    (r"kwd|kuwaiti\s+dinars?|دينار(?:\s+كويتي)?", "KWD"),
]
_SCALES = [
    (r"billion|bn|مليار(?:ات)?", Decimal(1_000_000_000)),
    (r"million|mn|m|مليون|ملايين", Decimal(1_000_000)),
    (r"thousand|k|ألف|الف|آلاف", Decimal(1_000)),
]
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SCALE = "|".join(p for p, _ in _SCALES)
_BEFORE = "|".join(re.escape(c) for c in sorted(_CURRENCY_BEFORE, key=len, reverse=True))
_AFTER = "|".join(p for p, _ in _CURRENCY_AFTER)
_MONEY = re.compile(
    rf"(?:(?<![\w$€£])(?P<cur1>{_BEFORE})\s?(?P<num1>{_NUMBER})(?:\s?(?P<scale1>{_SCALE}){_E})?)"
    rf"|(?:{_B}(?P<num2>{_NUMBER})(?:\s?(?P<scale2>{_SCALE}){_E})?\s?(?P<cur2>{_AFTER}){_E})",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Money:
    currency: str
    amount: Decimal

    def __str__(self) -> str:
        whole = self.amount == self.amount.to_integral_value()
        return f"{self.currency} {self.amount:,.0f}" if whole else f"{self.currency} {self.amount:,.2f}"


def _scale(word: str | None) -> Decimal:
    if not word:
        return Decimal(1)
    return next(factor for pattern, factor in _SCALES if re.fullmatch(pattern, word, re.IGNORECASE))


def amounts(line: str) -> list[Money]:
    """Every amount with a currency in ``line`` (Arabic digits read as ASCII)."""
    found = []
    for match in _MONEY.finditer(ascii_digits(line)):
        if match["num1"] is not None:
            currency = _CURRENCY_BEFORE[match["cur1"].lower()]
            number, scale = match["num1"], match["scale1"]
        else:
            currency = next(
                code for pattern, code in _CURRENCY_AFTER if re.fullmatch(pattern, match["cur2"], re.I)
            )
            number, scale = match["num2"], match["scale2"]
        try:
            value = Decimal(number.replace(",", "")) * _scale(scale)
        except InvalidOperation:  # pragma: no cover - the pattern only matches numbers
            continue
        found.append(Money(currency, value.normalize() if value == value.to_integral_value() else value))
    return found


# ----------------------------------------------------------------------------- dates
_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "january jan يناير كانون_الثاني",
        "february feb فبراير شباط",
        "march mar مارس آذار اذار",
        "april apr أبريل ابريل إبريل نيسان",
        "may مايو أيار ايار",
        "june jun يونيو يونيه حزيران",
        "july jul يوليو يوليه تموز",
        "august aug أغسطس اغسطس آب",
        "september sep sept سبتمبر أيلول ايلول",
        "october oct أكتوبر اكتوبر تشرين_الأول تشرين_الاول",
        "november nov نوفمبر تشرين_الثاني",
        "december dec ديسمبر كانون_الأول كانون_الاول",
    ],
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name.replace("_", " ")] = _number
_MONTH = "|".join(re.escape(m).replace(r"\ ", r"\s+") for m in sorted(_MONTHS, key=len, reverse=True))
_ORDINAL = r"(?:st|nd|rd|th)?"
_DATES = [
    re.compile(rf"{_B}(?P<y>\d{{4}})-(?P<m>\d{{1,2}})-(?P<d>\d{{1,2}}){_E}"),
    re.compile(rf"{_B}(?P<d>\d{{1,2}})[/.](?P<m>\d{{1,2}})[/.](?P<y>\d{{4}}){_E}"),
    re.compile(rf"{_B}(?P<d>\d{{1,2}}){_ORDINAL}\s+(?:of\s+)?(?P<mn>{_MONTH}){_E},?\s*(?P<y>\d{{4}})", re.I),
    re.compile(rf"{_B}(?P<mn>{_MONTH})\s+(?P<d>\d{{1,2}}){_ORDINAL},?\s+(?P<y>\d{{4}}){_E}", re.I),
]


def dates(line: str) -> list[date]:
    """Every calendar date in ``line``, in the order written; impossible dates (31 February) are none."""
    text = ascii_digits(line)
    found: list[tuple[int, date]] = []
    taken: list[range] = []
    for pattern in _DATES:
        for match in pattern.finditer(text):
            span = range(*match.span())
            if any(span.start in other or other.start in span for other in taken):
                continue
            month_name = match.groupdict().get("mn")
            month = _MONTHS[re.sub(r"\s+", " ", month_name.lower())] if month_name else int(match["m"])
            try:
                found.append((match.start(), date(int(match["y"]), month, int(match["d"]))))
            except ValueError:
                continue
            taken.append(span)
    return [value for _, value in sorted(found)]


# ----------------------------------------------------------------------------- parties
ROLES: dict[str, str] = {
    "buyer": "buyer", "purchaser": "buyer", "acquirer": "buyer", "investor": "buyer",
    "seller": "seller", "vendor": "seller",
    "target": "target", "company": "target",
    "المشتري": "buyer", "المستحوذ": "buyer", "المستثمر": "buyer",
    "البائع": "seller",
    "الشركة المستهدفة": "target", "الهدف": "target",
}  # fmt: skip
_ROLE = "|".join(re.escape(r) for r in sorted(ROLES, key=len, reverse=True))
_LABELLED_PARTY = re.compile(rf"^\s*(?:the\s+)?(?P<role>{_ROLE})\s*[:：]\s*(?P<name>[^;\n]+?)\s*\.?$", re.I)
_DEFINED_PARTY = re.compile(
    rf"(?P<name>[A-Z][\w&.,'’-]*(?:\s+[A-Z&][\w&.,'’-]*)*)\s*\(\s*(?i:the\s+)?[\"“”']?(?P<role>(?i:{_ROLE}))[\"“”']?\s*\)"
)
_LEGAL_FORMS = re.compile(
    r"(?<!\w)(?:llc|ltd|limited|inc|plc|pjsc|psc|fzco|fze|fzc|co|corp|corporation|company|sa|gmbh|شمم|شمع|شمب"
    r"|ذمم|شركة)(?!\w)",
    re.IGNORECASE,
)
_ARABIC = re.compile(r"[\u0600-\u06FF]")


@dataclass(frozen=True)
class Party:
    role: str
    name: str

    @property
    def key(self) -> str:
        """The name without legal forms, punctuation, case or spacing: "Gulf Ventures L.L.C." and
        "GULF VENTURES LLC" are one party."""
        plain = _LEGAL_FORMS.sub(" ", self.name.lower().replace(".", ""))
        plain = re.sub(r"[^\w\s]", " ", plain)
        return " ".join(plain.split())

    @property
    def script(self) -> str:
        return "arabic" if _ARABIC.search(self.name) else "latin"


def parties(line: str) -> list[Party]:
    """The parties ``line`` names with their role: a label (``Buyer: ...``, ``البائع: ...``) or a
    definition (``Gulf Ventures LLC (the "Buyer")``)."""
    found = []
    if (labelled := _LABELLED_PARTY.match(line)) is not None:
        found.append(Party(ROLES[labelled["role"].lower()], labelled["name"].strip(' .,"“”')))
    for defined in _DEFINED_PARTY.finditer(line):
        name = re.sub(r"^(?:between|and|by|of)\s+", "", defined["name"].strip(" ,"), flags=re.I)
        found.append(Party(ROLES[defined["role"].lower()], name.strip(" ,")))
    return found


# ----------------------------------------------------------------------------- exclusivity
_NON_EXCLUSIVE = re.compile(rf"{_B}(?:non[-\s]?exclusiv\w*|not\s+exclusive|غير\s+حصري\w*){_E}", re.I)
_EXCLUSIVE = re.compile(rf"{_B}(?:exclusiv\w*|حصري\w*|الحصري\w*){_E}", re.I)
_PERIOD = re.compile(
    rf"{_B}(?P<n>\d+)\s*(?:\(\w+\)\s*)?(?P<unit>days?|business\s+days|months?|weeks?|years?|يوما|يوماً|يوم|أيام|ايام"
    rf"|شهرا|شهراً|شهر|أشهر|اشهر|شهور|أسابيع|أسبوع|اسبوع|سنة|سنوات|عام|أعوام){_E}",
    re.I,
)
_UNIT_DAYS = [
    (r"business\s+days", "business_days", 1),
    (r"days?|يوما|يوماً|يوم|أيام|ايام", "days", 1),
    (r"weeks?|أسابيع|أسبوع|اسبوع", "days", 7),
    (r"months?|شهرا|شهراً|شهر|أشهر|اشهر|شهور", "months", 1),
    (r"years?|سنة|سنوات|عام|أعوام", "months", 12),
]


@dataclass(frozen=True)
class Exclusivity:
    exclusive: bool
    period: tuple[int, str] | None = None  # (n, "days" | "business_days" | "months")

    def __str__(self) -> str:
        if not self.exclusive:
            return "non-exclusive"
        if self.period is None:
            return "exclusive"
        n, unit = self.period
        return f"exclusive for {n} {unit.replace('_', ' ')}"


def exclusivity(line: str) -> Exclusivity | None:
    """Whether ``line`` grants exclusivity (and for how long) or says it is not exclusive; None when it
    says neither."""
    text = ascii_digits(line)
    if _NON_EXCLUSIVE.search(text):
        return Exclusivity(False)
    if not _EXCLUSIVE.search(text):
        return None
    period = _PERIOD.search(text)
    if period is None:
        return Exclusivity(True)
    unit, factor = next(
        (name, factor) for pattern, name, factor in _UNIT_DAYS if re.fullmatch(pattern, period["unit"], re.I)
    )
    return Exclusivity(True, (int(period["n"]) * factor, unit))


# ----------------------------------------------------------------------------- territory
_COUNTRIES: dict[str, tuple[str, ...]] = {
    "SA": ("saudi arabia", "kingdom of saudi arabia", "ksa", "saudi", "المملكة العربية السعودية", "السعودية"),
    "AE": ("united arab emirates", "uae", "emirates", "الإمارات العربية المتحدة", "الإمارات", "الامارات"),
    "QA": ("qatar", "قطر"),
    "KW": ("kuwait", "الكويت"),
    "BH": ("bahrain", "البحرين"),
    "OM": ("oman", "sultanate of oman", "عُمان", "عمان", "سلطنة عمان"),
    "EG": ("egypt", "مصر"),
    "JO": ("jordan", "الأردن", "الاردن"),
    "MA": ("morocco", "المغرب"),
    "IQ": ("iraq", "العراق"),
    "LB": ("lebanon", "لبنان"),
    "TN": ("tunisia", "تونس"),
}
_GROUPS: dict[str, tuple[str, ...]] = {
    "GCC": ("gcc", "gulf cooperation council", "مجلس التعاون الخليجي", "دول مجلس التعاون", "دول الخليج"),
}
GROUP_MEMBERS = {"GCC": frozenset({"SA", "AE", "QA", "KW", "BH", "OM"})}
_PLACE_NAMES = sorted(
    [(name, code) for code, names in {**_COUNTRIES, **_GROUPS}.items() for name in names],
    key=lambda item: len(item[0]),
    reverse=True,
)
# Arabic joins "and" (و) and "the" (ال) to the word: "والإمارات" names the Emirates.
_PLACE_ALTERNATIVES = "|".join(re.escape(n).replace(r"\ ", r"\s+") for n, _ in _PLACE_NAMES)
_PLACE = re.compile(rf"(?<!\w)(?:و)?(?P<name>{_PLACE_ALTERNATIVES})(?!\w)", re.IGNORECASE)
_EXCEPT = re.compile(rf"{_B}(?:except|excluding|other\s+than|save|باستثناء|عدا|ما\s+عدا){_E}", re.I)


def territory(line: str) -> frozenset[str] | None:
    """The countries (ISO codes) a territory line names; a group (GCC) counts as its members and
    ``except X`` takes X out. None when the line names no country."""
    included: set[str] = set()
    excluded: set[str] = set()
    cut = _EXCEPT.search(line)
    for match in _PLACE.finditer(line):
        name = " ".join(match["name"].lower().split())
        code = next(code for candidate, code in _PLACE_NAMES if candidate == name)
        codes = GROUP_MEMBERS.get(code, frozenset({code}))
        (excluded if cut is not None and match.start() > cut.start() else included).update(codes)
    return frozenset(included - excluded) if included else None


# ----------------------------------------------------------------------------- a document's facts
@dataclass(frozen=True)
class Fact:
    """What one line says about one topic. ``value`` compares (Money, date, Party key, Exclusivity,
    frozenset of countries); ``shown`` is how a conflict states it."""

    topic: str
    value: object
    shown: str
    line: int
    quote: str


def _about(line: str, topic: str) -> bool:
    return TOPIC_WORDS[topic].search(line) is not None


def line_facts(number: int, line: str) -> list[Fact]:
    quote = " ".join(line.split())[:300]
    facts: list[Fact] = []
    if _about(line, "price"):
        facts += [Fact("price", m, str(m), number, quote) for m in amounts(line)]
    # A line about the long-stop date often mentions closing too ("long-stop date for closing"): the most
    # specific topic takes its dates.
    for topic in ("long_stop_date", "closing_date", "effective_date"):
        if _about(line, topic):
            facts += [Fact(topic, d, d.isoformat(), number, quote) for d in dates(line)]
            break
    for party in parties(line):
        facts.append(Fact(f"party:{party.role}", party, party.name, number, quote))
    if _about(line, "exclusivity") and (grant := exclusivity(line)) is not None:
        facts.append(Fact("exclusivity", grant, str(grant), number, quote))
    if _about(line, "territory") and (places := territory(line)) is not None:
        facts.append(Fact("territory", places, ", ".join(sorted(places)), number, quote))
    return facts


def document_facts(text: str) -> list[Fact]:
    """Every fact of a document, line by line (lines numbered from 1, as conflicts locate them)."""
    return [
        fact for number, line in enumerate(text.splitlines(), start=1) for fact in line_facts(number, line)
    ]
