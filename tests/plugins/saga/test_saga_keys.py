"""Idempotency keys: deterministic, free of try_number and clock, bounded, hashed when long."""

from __future__ import annotations

import ast
import inspect
import re

import pytest

from execution_plane.saga import keys


class TestWorkflowId:
    def test_is_dag_and_request(self):
        assert keys.workflow_id("partner_onboarding", "opp-42") == "partner_onboarding:opp-42"


class TestStepKey:
    def test_deterministic(self):
        first = keys.step_key("wf:1", "send_for_signature", "a", "b")
        assert first == keys.step_key("wf:1", "send_for_signature", "a", "b")
        assert first == "wf:1:send_for_signature:a:b"

    def test_different_inputs_give_different_keys(self):
        base = keys.step_key("wf:1", "step")
        assert base != keys.step_key("wf:2", "step")
        assert base != keys.step_key("wf:1", "other")
        assert base != keys.step_key("wf:1", "step", "part")

    def test_takes_no_try_number_or_clock(self):
        # The signature names only the business identity and the step...
        assert set(inspect.signature(keys.step_key).parameters) == {"workflow", "step", "parts"}
        # ...and the module's code reads no clock, randomness or task try (docstrings aside).
        tree = ast.parse(inspect.getsource(keys))
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
        }
        assert imported.isdisjoint({"time", "datetime", "uuid", "random", "secrets", "airflow"})
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        assert names.isdisjoint({"try_number", "now", "utcnow", "time", "uuid4"})

    def test_long_key_is_hashed_and_bounded(self):
        long_part = "x" * 500
        key = keys.step_key("wf:1", "step", long_part)
        assert len(key) <= keys.MAX_KEY_LENGTH
        assert "~" in key
        assert key == keys.step_key("wf:1", "step", long_part)
        # Two long keys sharing their first 200 characters still differ (the digest covers everything).
        assert key != keys.step_key("wf:1", "step", long_part + "y")

    def test_unsafe_characters_are_hashed(self):
        key = keys.step_key("wf:1", "step", "a b/c")
        assert re.fullmatch(r"[A-Za-z0-9._:~-]+", key)
        assert key != keys.step_key("wf:1", "step", "a_b_c")  # sanitising alone would collide

    @pytest.mark.parametrize("length", [199, 200, 201, 1000])
    def test_boundary(self, length):
        workflow = "w" * (length - len(":s"))
        key = keys.step_key(workflow, "s")
        assert len(key) <= keys.MAX_KEY_LENGTH
        if length <= keys.MAX_KEY_LENGTH:
            assert key == f"{workflow}:s"


class TestMessageId:
    def test_stable(self):
        first = keys.message_id("wf:1", "welcome", "bob@example.com", "welcome_v1")
        assert first == keys.message_id("wf:1", "welcome", "bob@example.com", "welcome_v1")
        assert first.startswith("msg_")
        assert len(first) == len("msg_") + 40

    def test_recipient_case_and_space_insensitive(self):
        assert keys.message_id("wf:1", "s", " Bob@Example.COM ", "t") == keys.message_id(
            "wf:1", "s", "bob@example.com", "t"
        )

    @pytest.mark.parametrize(
        "other",
        [
            ("wf:2", "s", "bob@example.com", "t"),
            ("wf:1", "s2", "bob@example.com", "t"),
            ("wf:1", "s", "alice@example.com", "t"),
            ("wf:1", "s", "bob@example.com", "t2"),
        ],
    )
    def test_each_part_matters(self, other):
        assert keys.message_id("wf:1", "s", "bob@example.com", "t") != keys.message_id(*other)

    def test_parts_cannot_be_shifted(self):
        assert keys.message_id("a", "b:c", "d@x.io", "t") != keys.message_id("a:b", "c", "d@x.io", "t")


class TestRequestHash:
    def test_key_order_does_not_matter(self):
        assert keys.request_hash({"a": 1, "b": [1, 2]}) == keys.request_hash({"b": [1, 2], "a": 1})

    def test_values_matter(self):
        assert keys.request_hash({"a": 1}) != keys.request_hash({"a": 2})
