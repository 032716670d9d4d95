"""The deterministic checks: two documents' facts (``facts``) compared topic by topic. A topic only one of
them speaks about is no conflict; one they both speak about conflicts when they share no value:

- **amounts** (``price``): compared in the same currency only (converting would need a rate and a date the
  documents do not give); two different figures in one currency conflict;
- **dates** (closing, long-stop, effective): different days conflict;
- **parties** (buyer, seller, target): the same role held by differently named parties conflicts, names
  compared without legal form, case or punctuation, and only in the same script (an English and an Arabic
  name cannot be matched by rule: the model compares those);
- **exclusivity**: exclusive against non-exclusive, or two different exclusivity periods, conflict (a
  period left unstated is no conflict; a document's lines that state a period count over those that only
  mention exclusivity);
- **territory**: the countries each document names (a group such as the GCC as its members) differ.

Each conflict quotes the first line of each side that states the topic, with its line number.
``RULES_VERSION`` names these rules: a cached comparison made under other rules is not reused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workflows.contradiction_scan.domain.facts import Exclusivity, Fact, Money, Party

RULES_VERSION = "contradiction-rules/1"

TOPIC_NAMES = {
    "price": "price",
    "closing_date": "closing date",
    "long_stop_date": "long-stop date",
    "effective_date": "effective date",
    "party:buyer": "buyer",
    "party:seller": "seller",
    "party:target": "target company",
    "exclusivity": "exclusivity",
    "territory": "territory",
}


@dataclass(frozen=True)
class Quote:
    line: int
    text: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "quote": self.text}


@dataclass(frozen=True)
class Finding:
    """A conflict between two documents, ``a`` and ``b``: what it is about, why, and the quoted lines."""

    topic: str
    detail: str
    a: Quote
    b: Quote
    source: str  # "rules" or "model"

    def as_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "detail": self.detail,
            "a": self.a.as_json(),
            "b": self.b.as_json(),
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        return cls(
            topic=str(data["topic"]),
            detail=str(data["detail"]),
            a=Quote(int(data["a"]["line"]), str(data["a"]["quote"])),
            b=Quote(int(data["b"]["line"]), str(data["b"]["quote"])),
            source=str(data["source"]),
        )


def _finding(topic: str, detail: str, fa: Fact, fb: Fact) -> Finding:
    return Finding(topic, detail, Quote(fa.line, fa.quote), Quote(fb.line, fb.quote), "rules")


def _differ(topic: str, a: list[Fact], b: list[Fact]) -> Finding | None:
    """Values compared as they are (dates): no value in common is a conflict."""
    if {f.value for f in a} & {f.value for f in b}:
        return None
    name = TOPIC_NAMES.get(topic, topic)
    return _finding(topic, f"{name}: {a[0].shown} in one, {b[0].shown} in the other", a[0], b[0])


def _price(topic: str, a: list[Fact], b: list[Fact]) -> Finding | None:
    for currency in sorted({_money(f).currency for f in a} & {_money(f).currency for f in b}):
        in_a = [f for f in a if _money(f).currency == currency]
        in_b = [f for f in b if _money(f).currency == currency]
        if not {_money(f).amount for f in in_a} & {_money(f).amount for f in in_b}:
            return _finding(
                topic, f"price: {in_a[0].shown} in one, {in_b[0].shown} in the other", in_a[0], in_b[0]
            )
    return None


def _money(fact: Fact) -> Money:
    assert isinstance(fact.value, Money)
    return fact.value


def _party(topic: str, a: list[Fact], b: list[Fact]) -> Finding | None:
    def party(fact: Fact) -> Party:
        assert isinstance(fact.value, Party)
        return fact.value

    comparable = [(fa, fb) for fa in a for fb in b if party(fa).script == party(fb).script]
    if not comparable or any(party(fa).key == party(fb).key for fa, fb in comparable):
        return None
    fa, fb = comparable[0]
    name = TOPIC_NAMES.get(topic, topic)
    return _finding(topic, f"{name}: {fa.shown!r} in one, {fb.shown!r} in the other", fa, fb)


def _exclusivity(topic: str, a: list[Fact], b: list[Fact]) -> Finding | None:
    def grant(fact: Fact) -> Exclusivity:
        assert isinstance(fact.value, Exclusivity)
        return fact.value

    def agree(x: Exclusivity, y: Exclusivity) -> bool:
        return x.exclusive == y.exclusive and (x.period is None or y.period is None or x.period == y.period)

    def stated(facts: list[Fact]) -> list[Fact]:
        # A line that states the period says more than one that only mentions exclusivity.
        return [f for f in facts if grant(f).period is not None] or facts

    a, b = stated(a), stated(b)
    if any(agree(grant(fa), grant(fb)) for fa in a for fb in b):
        return None
    fa, fb = a[0], b[0]
    return _finding(topic, f"exclusivity: {fa.shown} in one, {fb.shown} in the other", fa, fb)


def _territory(topic: str, a: list[Fact], b: list[Fact]) -> Finding | None:
    def places(facts: list[Fact]) -> frozenset[str]:
        return frozenset().union(*(f.value for f in facts if isinstance(f.value, frozenset)))

    in_a, in_b = places(a), places(b)
    if in_a == in_b:
        return None
    parts = []
    if only_a := sorted(in_a - in_b):
        parts.append(f"only in one: {', '.join(only_a)}")
    if only_b := sorted(in_b - in_a):
        parts.append(f"only in the other: {', '.join(only_b)}")
    return _finding(topic, "territory: " + "; ".join(parts), a[0], b[0])


_CHECKS: dict[str, Callable[[str, list[Fact], list[Fact]], Finding | None]] = {
    "price": _price,
    "closing_date": _differ,
    "long_stop_date": _differ,
    "effective_date": _differ,
    "party": _party,
    "exclusivity": _exclusivity,
    "territory": _territory,
}


def compare_facts(a: list[Fact], b: list[Fact]) -> list[Finding]:
    """The conflicts between two documents' facts, one per topic at most, in topic order."""
    findings = []
    for topic in sorted({f.topic for f in a} & {f.topic for f in b}):
        check = _CHECKS[topic.split(":", 1)[0]]
        found = check(topic, [f for f in a if f.topic == topic], [f for f in b if f.topic == topic])
        if found is not None:
            findings.append(found)
    return findings
