from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from include.domain.common import Message, canonical_json, jsonb_problem, sha256_hex


def test_canonical_json_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": [1, 2], "c": "شركة"}) == '{"a":[1,2],"b":1,"c":"شركة"}'.encode()


def test_canonical_json_independent_of_insertion_order() -> None:
    assert canonical_json({"x": 1, "y": {"q": 2, "p": 3}}) == canonical_json({"y": {"p": 3, "q": 2}, "x": 1})


def test_canonical_json_normalises_dates_and_decimals() -> None:
    plus3 = timezone(timedelta(hours=3))
    assert canonical_json({"d": date(2025, 1, 2)}) == b'{"d":"2025-01-02"}'
    assert canonical_json(datetime(2025, 1, 2, 12, tzinfo=plus3)) == b'"2025-01-02T09:00:00Z"'
    assert canonical_json(datetime(2025, 1, 2, 9)) == b'"2025-01-02T09:00:00Z"'
    assert canonical_json(Decimal("1.10")) == b'"1.10"'
    assert canonical_json({"s": {3, 1, 2}}) == b'{"s":[1,2,3]}'


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {"a": [float("-inf")]}])
def test_canonical_json_rejects_non_finite(bad: object) -> None:
    with pytest.raises(ValueError):
        canonical_json(bad)


def test_canonical_json_rejects_unknown_types() -> None:
    with pytest.raises(TypeError):
        canonical_json({"o": object()})


def test_sha256_hex() -> None:
    assert sha256_hex(b"abc") == hashlib.sha256(b"abc").hexdigest()
    assert len(sha256_hex(b"")) == 64


def test_message_to_dict() -> None:
    assert Message("s", "b").to_dict() == {"subject": "s", "body": "b"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_canonical_json_is_order_independent(d: dict[str, object]) -> None:
    reversed_d = dict(reversed(list(d.items())))
    assert canonical_json(d) == canonical_json(reversed_d)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"a": ["text", 1, 2.5, None, True], "b": {"c": "ü ✓ 🙂"}}, None),
        ({"note": "a\x00b"}, "NUL characters (\\u0000) are not accepted"),
        ({"a\x00": 1}, "NUL characters (\\u0000) are not accepted"),  # keys count too
        ({"list": ["ok", "\ud83d"]}, "lone UTF-16 surrogates (\\ud800-\\udfff) are not accepted"),
        ({"x": {"y": 1}}, None),  # three levels, the value counted: the limit
        ({"x": {"y": {"z": 1}}}, "nested deeper than 3 levels"),
        ({"x": [["deep"]]}, "nested deeper than 3 levels"),
    ],
)
def test_jsonb_problem_names_what_jsonb_would_not_keep(value: Any, problem: str | None) -> None:
    assert jsonb_problem(value, max_depth=3) == problem


def test_jsonb_problem_walks_a_document_deeper_than_the_recursion_limit() -> None:
    deep: Any = "leaf"
    for _ in range(5000):
        deep = [deep]
    assert jsonb_problem(deep, max_depth=32) == "nested deeper than 32 levels"
    assert jsonb_problem(deep, max_depth=10_000) is None
