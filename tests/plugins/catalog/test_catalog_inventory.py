"""The inventory against the spec: counts, transcribed facts, classes and lookups."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from execution_plane.catalog import (
    INVENTORY,
    PausePoint,
    WaitsOn,
    WorkflowClass,
    WorkflowRecord,
    by_dag_id,
    by_key,
    classify,
    disagreements,
)

REPO_ROOT = Path(__file__).resolve().parents[3]

SHORT = WorkflowClass.SHORT_LIVED_LOCAL
MEDIUM = WorkflowClass.MEDIUM_LIVED_ORCHESTRATED
LONG = WorkflowClass.LONG_LIVED_DURABLE

# key -> (duration as the spec writes it, class the workflow runs as): pinned so a new verdict is deliberate.
EXPECTED: dict[str, tuple[str, WorkflowClass]] = {
    "lead_scoring": ("<5s", MEDIUM),
    "message_classification": ("<2s", SHORT),
    "dialect_detection": ("<1s", SHORT),
    "knowledge_retrieval": ("<3s", SHORT),
    "dashboard_aggregation": ("<5s", SHORT),
    "health_check": ("<1s", SHORT),
    "trust_score_calculation": ("<5s", SHORT),
    "audit_log_write": ("<1s", SHORT),
    "lead_qualification_pipeline": ("1-5 min", MEDIUM),
    "multi_channel_outreach_sequence": ("1 hour-2 days", LONG),
    "meeting_booking_flow": ("2-10 min", LONG),
    "proposal_generation": ("5-15 min", MEDIUM),
    "affiliate_onboarding": ("10-30 min", LONG),
    "compliance_scan": ("2-5 min", MEDIUM),
    "evidence_pack_assembly": ("1-5 min", MEDIUM),
    "contradiction_scan": ("5-30 min", MEDIUM),
    "partner_approval": ("1-14 days", LONG),
    "dd_room": ("2-8 weeks", LONG),
    "signature_commitment": ("1-7 days", LONG),
    "ma_offer_negotiation": ("2-12 weeks", LONG),
    "geographic_expansion_launch": ("4-12 weeks", LONG),
    "pmi_program_execution": ("3-6 months", LONG),
}


def test_inventory_holds_every_workflow_of_the_spec_once() -> None:
    keys = [record.key for record in INVENTORY]

    assert len(keys) == len(set(keys)) == 22
    assert set(keys) == set(EXPECTED)


def test_count_per_spec_table() -> None:
    assert Counter(record.spec_class for record in INVENTORY) == {SHORT: 8, MEDIUM: 8, LONG: 6}


@pytest.mark.parametrize("record", INVENTORY, ids=lambda record: record.key)
def test_every_record_runs_as_the_rules_class(record: WorkflowRecord) -> None:
    duration, expected_class = EXPECTED[record.key]
    assert str(record.duration) == duration
    assert record.workflow_class is classify(record).workflow_class is expected_class
    assert record.rule_reasons == classify(record).reasons
    assert record.rule_reasons
    assert record.disagrees_with_spec is (record.workflow_class is not record.spec_class)


def test_disagreements_are_the_records_the_rule_moves() -> None:
    assert [record.key for record in disagreements()] == [
        "lead_scoring",
        "multi_channel_outreach_sequence",
        "meeting_booking_flow",
        "affiliate_onboarding",
    ]


def test_outreach_sequence_is_durable_for_days_channels_and_messages() -> None:
    outreach = by_key("multi_channel_outreach_sequence")

    assert outreach.spec_class is MEDIUM
    assert outreach in disagreements()
    assert outreach.rule_reasons == (
        "spans days (up to 2 days)",
        "crosses 3 external systems: WhatsApp, Email, SMS",
        "represents an external commitment (contract, payment or message to an outside party)",
    )


def test_priority_workflows_carry_the_spec_facts() -> None:
    partner = by_dag_id("partner_approval")

    assert partner.name == "Partner Approval Flow"
    assert partner.external_systems == ("Email", "WhatsApp", "CRM", "eSign")
    assert partner.pause_points == (
        PausePoint("Term review", WaitsOn.PERSON),
        PausePoint("Legal review", WaitsOn.PERSON),
        PausePoint("Executive approval", WaitsOn.PERSON),
    )
    assert partner.compensation == ("Retract term sheet", "Notify partner of rejection")
    assert partner.steps[0] == "Partner identified"
    assert len(partner.steps) == 10
    assert by_dag_id("dd_room").compensation == ("Terminate DD", "Notify target", "Archive room")
    assert by_dag_id("signature_commitment").external_systems == ("DocuSign/Adobe Sign", "Email", "CRM")


def test_implementations_are_the_priority_workflows_and_health_check() -> None:
    implemented = {record.key: record.implementation for record in INVENTORY if record.implementation}

    assert implemented == {
        "health_check": "health_check",
        "partner_approval": "partner_approval",
        "dd_room": "dd_room",
        "signature_commitment": "signature_commitment",
    }
    assert by_dag_id("health_check").workflow_class.tag == "class:short-lived-local"


def test_internal_only_workflows_have_no_external_systems() -> None:
    assert by_key("compliance_scan").external_systems == ()
    assert by_key("evidence_pack_assembly").external_systems == ()


def test_unknown_key_raises_key_error() -> None:
    with pytest.raises(KeyError, match="no_such_workflow"):
        by_key("no_such_workflow")


def test_unknown_dag_id_raises_key_error() -> None:
    with pytest.raises(KeyError, match="no_such_dag"):
        by_dag_id("no_such_dag")


def test_a_workflow_without_a_dag_is_not_found_by_dag_id() -> None:
    with pytest.raises(KeyError):
        by_dag_id("lead_scoring")


def test_importing_the_catalog_does_not_import_airflow() -> None:
    probe = (
        "import sys, execution_plane.catalog; "
        "sys.exit(1 if any(name.split('.')[0] == 'airflow' for name in sys.modules) else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "plugins")},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_docs_list_every_workflow_and_every_disagreement() -> None:
    docs = (REPO_ROOT / "docs" / "catalog.md").read_text(encoding="utf-8")
    _, disagreement_section = docs.split("## Where the spec's table disagrees with the rule", 1)

    for record in INVENTORY:
        assert f"`{record.key}`" in docs
    for record in disagreements():
        assert f"`{record.key}`" in disagreement_section
