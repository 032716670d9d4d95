"""The steps of evidence_pack: resolve the subject, collect and seal its records, store the pack.

Reads go through the toolkit (``saga.records`` for the ledger's tables, ``Saga.workflow`` for a workflow's
row); the business tables are read here only to find the workflows of a deal (every table that holds both a
``deal_id`` and a ``workflow_id``). The stored documents and the pack's row are written through the ledger,
so a retried step stores nothing twice.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

DAG_ID = "evidence_pack"
MANIFEST_KIND = "evidence_pack_manifest"
PDF_KIND = "evidence_pack"


def _fail(message: str) -> Any:
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(message)


# ----------------------------------------------------------------------------- resolve the subject
def resolve_subject(params: dict[str, Any], run_after: Any) -> dict[str, Any]:
    """The subject, the moment it is taken as of, and the workflows whose records make its pack.

    Bad input (a subject id that does not fit its type, an as_of that is not a date-time or lies in the
    future) and a subject with no recorded workflow end the run here, before anything is stored."""
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from workflows.evidence_pack.domain import Subject, parse_as_of

    try:
        subject = Subject(type=params["subject_type"], id=params["subject_id"])
        as_of = parse_as_of(params.get("as_of"), default=run_after, now=datetime.now(UTC))
    except (ValidationError, ValueError) as exc:
        raise _fail(f"bad input, nothing collected: {_reason(exc)}") from None
    workflow_ids = _workflows_of(subject.type, subject.id)
    if not workflow_ids:
        raise _fail(
            f"{subject.key}: no workflow recorded as of {as_of.isoformat()}: nothing to pack, nothing stored"
        )
    log.info("evidence pack of %s as of %s: workflows %s", subject.key, as_of.isoformat(), workflow_ids)
    return {
        "subject": subject.key,
        "pack_id": subject.pack_id(as_of),
        "as_of": as_of.isoformat(),
        "workflow_ids": workflow_ids,
    }


def _reason(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return "; ".join(str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
    return str(exc)


def _workflows_of(subject_type: str, subject_id: str) -> list[str]:
    """The subject's workflows the ledger knows (their records' own timestamps decide which are in)."""
    from execution_plane.saga.steps import Saga

    candidates = [subject_id] if subject_type == "workflow" else _deal_workflows(subject_id)
    found = []
    for workflow_id in candidates:
        with Saga.for_workflow(workflow_id, actor=DAG_ID) as saga:
            if saga.workflow() is not None:
                found.append(workflow_id)
    return sorted(found)


def _deal_workflows(deal_id: str) -> list[str]:
    """Every workflow a business table ties to the deal (a table with a deal_id and a workflow_id)."""
    from psycopg2 import sql

    from execution_plane.saga.db import connect

    conn = connect(application_name=DAG_ID)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public'"
                " AND column_name IN ('deal_id', 'workflow_id') GROUP BY table_name"
                " HAVING count(DISTINCT column_name) = 2 ORDER BY table_name"
            )
            tables = [row[0] for row in cur.fetchall()]
            found: set[str] = set()
            for table in tables:
                cur.execute(
                    sql.SQL("SELECT DISTINCT workflow_id FROM {} WHERE deal_id = %s").format(
                        sql.Identifier(table)
                    ),
                    (deal_id,),
                )
                found.update(row[0] for row in cur.fetchall() if row[0])
    finally:
        conn.close()
    return sorted(found)


# ----------------------------------------------------------------------------- collect and seal
def collect_and_seal(subject: dict[str, Any]) -> dict[str, Any]:
    """Query the ledger's tables of the subject's workflows as of the moment, aggregate, canonical form,
    hash: the sealed manifest and the scope it was collected from."""
    from datetime import datetime

    from execution_plane.saga import records
    from execution_plane.saga.db import connect
    from include.domain.evidence import EvidenceScope, digest, pack_from_records

    scope = EvidenceScope(
        subject=subject["subject"],
        workflow_ids=tuple(subject["workflow_ids"]),
        until=datetime.fromisoformat(subject["as_of"]),
        correlation_keys=tuple(subject["workflow_ids"]),
        correlation_prefixes=tuple(subject["workflow_ids"]),
        messages=True,
    )
    conn = connect(application_name=DAG_ID)
    try:
        # One snapshot: records committed while the pack is read cannot tear it.
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn, conn.cursor() as cur:
            found = records.records_as_of(cur, scope.workflow_ids, **scope.query(), digest=digest)
    finally:
        conn.close()
    if not found:
        raise _fail(
            f"{scope.subject}: nothing recorded as of {subject['as_of']}: nothing to pack, nothing stored"
        )
    pack = pack_from_records(scope, found)
    kinds = sorted({item.kind.split(":", 1)[0] for item in pack.items})
    log.info(
        "evidence pack %s: %s items (%s), manifest sha256 %s",
        subject["pack_id"],
        len(pack.items),
        ", ".join(kinds),
        pack.manifest_sha256,
    )
    return {
        "pack_id": subject["pack_id"],
        "scope": scope.as_json(),
        "manifest": pack.manifest,
        "manifest_sha256": pack.manifest_sha256,
        "item_count": len(pack.items),
    }


# ----------------------------------------------------------------------------- store
def store_pack(sealed: dict[str, Any], run_id: str, subject: dict[str, Any]) -> dict[str, Any]:
    """The manifest (canonical JSON) and its PDF stored by content hash, the pack recorded under its scope.

    A pack already stored for the same subject and moment is compared with this one: the same hash counts
    as a rebuild, another hash is recorded as a mismatch (the run then ends failed: something the pack was
    sealed over was altered or removed)."""
    import json

    from execution_plane.saga import keys
    from execution_plane.saga.steps import Saga
    from include.domain.common import canonical_json
    from include.domain.evidence import EvidenceItem, EvidencePack, evidence_pack_pdf
    from workflows.evidence_pack.domain import build_request_id

    pack = EvidencePack(
        deal_key=sealed["manifest"]["deal_key"],
        manifest=sealed["manifest"],
        manifest_sha256=sealed["manifest_sha256"],
        items=[EvidenceItem(**entry) for entry in sealed["manifest"]["items"]],
    )
    request_id = build_request_id(run_id)
    with Saga(
        workflow_id=keys.workflow_id(DAG_ID, request_id),
        dag_id=DAG_ID,
        run_id=run_id,
        business_key=request_id,
    ) as saga:
        manifest_doc = saga.store_document(
            "pack.manifest", kind=MANIFEST_KIND, data=canonical_json(pack.manifest), compensation=False
        )
        pdf_doc = saga.store_document(
            "pack.pdf", kind=PDF_KIND, data=evidence_pack_pdf(pack), compensation=False
        )
        subject_type, _, subject_id = subject["subject"].partition(":")

        def record(cur: Any) -> dict[str, Any]:
            cur.execute(
                "INSERT INTO evidence_pack_builds (pack_id, workflow_id, subject_type, subject_id, as_of,"
                " scope, manifest, manifest_sha256, item_count, json_sha256, pdf_sha256) VALUES (%s, %s, %s,"
                " %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s) ON CONFLICT (pack_id) DO NOTHING"
                " RETURNING pack_id",
                (
                    sealed["pack_id"],
                    saga.workflow_id,
                    subject_type,
                    subject_id,
                    subject["as_of"],
                    json.dumps(sealed["scope"]),
                    json.dumps(pack.manifest),
                    pack.manifest_sha256,
                    sealed["item_count"],
                    manifest_doc["sha256"],
                    pdf_doc["sha256"],
                ),
            )
            if cur.fetchone() is not None:
                return _stored("built", sealed, manifest_doc, pdf_doc)
            cur.execute(
                "SELECT manifest_sha256 FROM evidence_pack_builds WHERE pack_id = %s FOR UPDATE",
                (sealed["pack_id"],),
            )
            stored_sha = cur.fetchone()[0]
            if stored_sha == pack.manifest_sha256:
                cur.execute(
                    "UPDATE evidence_pack_builds SET rebuilds = rebuilds + 1, last_rebuilt_at = now()"
                    " WHERE pack_id = %s",
                    (sealed["pack_id"],),
                )
                return _stored("rebuilt", sealed, manifest_doc, pdf_doc)
            cur.execute(
                "UPDATE evidence_pack_builds SET mismatch_sha256 = %s, mismatch_at = now()"
                " WHERE pack_id = %s",
                (pack.manifest_sha256, sealed["pack_id"]),
            )
            return {**_stored("mismatch", sealed, manifest_doc, pdf_doc), "stored_sha256": stored_sha}

        stored = saga.db_write("pack.record", record, request={"manifest_sha256": pack.manifest_sha256})
        if stored["status"] == "mismatch":
            reason = (
                f"pack {sealed['pack_id']} rebuilt with sha256 {pack.manifest_sha256}, stored with "
                f"{stored['stored_sha256']}: a record it was sealed over was altered or removed"
            )
            saga.end("failed", reason)
            raise _fail(reason)
        saga.end("completed")
    log.info("evidence pack %s %s: manifest %s", sealed["pack_id"], stored["status"], pack.manifest_sha256)
    return stored


def _stored(
    status: str, sealed: dict[str, Any], manifest_doc: dict[str, Any], pdf_doc: dict[str, Any]
) -> dict[str, Any]:
    return {
        "status": status,
        "pack_id": sealed["pack_id"],
        "manifest_sha256": sealed["manifest_sha256"],
        "item_count": sealed["item_count"],
        "manifest_document": manifest_doc["sha256"],
        "pdf_document": pdf_doc["sha256"],
    }
