"""
### Evidence pack assembly (medium-lived orchestrated, 1-5 min, internal only)

For any **workflow** (`subject_type: workflow`, `subject_id: <dag_id>:<request_id>`) or **deal**
(`subject_type: deal`, `subject_id`: the CRM deal id; its workflows are every workflow a business table ties
to the deal): **query** the tables that hold its documents, decisions, approvals, events, messages and ledger
(`documents`, `saga_steps` with their results in `idempotency_keys`, `approval_requests`, `audit_log`,
`external_events` of its correlation keys, `outbound_messages`, through the toolkit's `saga.records`) as of
one moment -> **aggregate** into items (kind, reference, sha256, time) -> **canonical form** (canonical JSON,
items in a total order, duplicates once) -> **hash** (`manifest_sha256`) -> **stored**: the manifest and
its PDF by content hash in the document store, the pack in `evidence_pack_builds` with its scope.

**Rebuilding gives the same hash.** `as_of` is the moment the pack is taken of (empty: when the run was
asked for). A decision taken or a message sent after it reads as it stood then, so running the DAG again
for the same subject and `as_of` collects the same records and lands on the same pack: the same hash counts
as a rebuild (`rebuilds`); another hash is recorded as a mismatch and the run **fails**: something the pack
was sealed over was altered or removed. `compliance_scan` rebuilds every stored pack the same way, and
`signature_commitment` seals its own pack with this code (`include.domain.evidence`).

**Bad input** (a subject id that does not fit its type, an `as_of` that is not a date-time or lies in the
future) and a subject with no recorded workflow or no record as of that moment fail the first steps, before
anything is stored. **Start**: the trigger form or `POST /api/v2/dags/evidence_pack/dagRuns`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from execution_plane.defaults import default_args, tags_for

# A subject id: a workflow id (<dag_id>:<request_id>) or a deal id; the first step checks it fits its type.
SUBJECT_ID = r"^(?:[a-z][a-z0-9_]{0,63}:)?(?!.*\.\.)[A-Za-z0-9._-]{1,64}$"


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    default_args=default_args(),
    tags=tags_for("evidence_pack", "evidence"),
    params={
        "subject_type": Param("deal", type="string", enum=["workflow", "deal"], description="what to pack"),
        "subject_id": Param(
            type="string",
            pattern=SUBJECT_ID,
            description="a workflow id (<dag_id>:<request_id>) or a CRM deal id",
        ),
        "as_of": Param(
            None,
            type=["null", "string"],
            format="date-time",
            description="the moment the pack is taken of (ISO 8601); empty: when the run was asked for. "
            "The same subject and moment rebuild the same pack.",
        ),
    },
)
def evidence_pack() -> None:
    # ---------------------------------------------------------------- tasks
    @task
    def resolve_subject() -> dict[str, Any]:
        from workflows.evidence_pack import steps

        context = get_current_context()
        return steps.resolve_subject(dict(context["params"]), context["dag_run"].run_after)

    @task
    def collect_and_seal(subject: dict[str, Any]) -> dict[str, Any]:
        from workflows.evidence_pack import steps

        return steps.collect_and_seal(subject)

    @task
    def store_pack(sealed: dict[str, Any], subject: dict[str, Any]) -> dict[str, Any]:
        from workflows.evidence_pack import steps

        return steps.store_pack(sealed, get_current_context()["run_id"], subject)

    # ---------------------------------------------------------------- calling tasks
    subject = resolve_subject()
    store_pack(collect_and_seal(subject), subject)


evidence_pack()
