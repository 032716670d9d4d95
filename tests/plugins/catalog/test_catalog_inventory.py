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
    by_dag_id,
    by_key,
    disagreements,
)
from tests.plugins.catalog.spec_facts import DISAGREEING, LONG, MEDIUM, SHORT, SPEC

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_inventory_holds_every_workflow_of_the_spec_once() -> None:
    keys = [record.key for record in INVENTORY]

    assert len(keys) == len(set(keys)) == 22
    assert set(keys) == set(SPEC)


def test_count_per_spec_table() -> None:
    assert Counter(record.spec_class for record in INVENTORY) == {SHORT: 8, MEDIUM: 8, LONG: 6}


@pytest.mark.parametrize("key", SPEC)
def test_every_record_carries_the_spec_facts(key: str) -> None:
    record, spec = by_key(key), SPEC[key]

    assert record.spec_class is spec.table
    assert str(record.duration) == spec.duration
    assert record.external_systems == spec.external_systems
    assert record.compensation == spec.compensation


@pytest.mark.parametrize("key", SPEC)
def test_every_record_runs_as_the_rule_applied_by_hand(key: str) -> None:
    record, spec = by_key(key), SPEC[key]

    assert record.workflow_class is spec.runs_as
    assert record.classification.criteria == spec.criteria
    assert len(record.rule_reasons) == len(spec.criteria)
    assert record.disagrees_with_spec is (spec.runs_as is not spec.table)


def test_disagreements_are_the_records_the_rule_moves() -> None:
    assert [key for key, spec in SPEC.items() if spec.runs_as is not spec.table] == DISAGREEING
    assert [record.key for record in disagreements()] == DISAGREEING


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


def test_every_workflow_of_the_spec_is_implemented_by_its_dag() -> None:
    implemented = {record.key: record.implementation for record in INVENTORY if record.implementation}

    assert implemented == {
        "health_check": "health_check",
        "message_classification": "message_classification",
        "dialect_detection": "dialect_detection",
        "knowledge_retrieval": "knowledge_retrieval",
        "lead_scoring": "lead_scoring",
        "dashboard_aggregation": "dashboard_aggregation",
        "trust_score_calculation": "trust_score_calculation",
        "audit_log_write": "audit_log_write",
        "partner_approval": "partner_approval",
        "dd_room": "dd_room",
        "signature_commitment": "signature_commitment",
        "ma_offer_negotiation": "ma_offer",
        "geographic_expansion_launch": "geo_expansion_launch",
        "pmi_program_execution": "pmi_program",
        "lead_qualification_pipeline": "lead_qualification",
        "multi_channel_outreach_sequence": "outreach_sequence",
        "meeting_booking_flow": "meeting_booking",
        "affiliate_onboarding": "affiliate_onboarding",
        "proposal_generation": "proposal_generation",
        "compliance_scan": "compliance_scan",
        "evidence_pack_assembly": "evidence_pack",
        "contradiction_scan": "contradiction_scan",
    }
    assert by_dag_id("lead_qualification").workflow_class.tag == "class:medium-lived-orchestrated"
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


def test_a_workflow_is_found_by_its_dag_id_not_by_its_key() -> None:
    assert by_dag_id("lead_qualification").key == "lead_qualification_pipeline"
    with pytest.raises(KeyError):
        by_dag_id("lead_qualification_pipeline")


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

    for key in SPEC:
        assert f"`{key}`" in docs
    for key in DISAGREEING:
        assert f"`{key}`" in disagreement_section
