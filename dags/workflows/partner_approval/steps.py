"""Task-side steps of partner_approval, each an idempotent saga step with its undo beside it.

The DAG file (dag.py, beside this module) wires them in the spec's order; business rules live in the
``domain`` package. Domain models and hooks load inside the steps: the DAG file imports this module while
it is parsed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, routed_step, step
from execution_plane.saga.compensations import Compensation, compensation

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)

MAX_ROUNDS = 3  # the graph holds this many negotiation rounds; the run's param may allow fewer
RESPONSE_TYPES = ("partner.accepted", "partner.countered", "partner.declined")
REJECTION_NOTICE = (
    "Thank you for your interest in partnering with us. After review we are not able to proceed with the "
    "partnership proposal at this time, and the terms we sent you are withdrawn. We will keep your details "
    "on file."
)


# ----------------------------------------------------------------------------- partner identified
@step
def identify_partner(run: Run) -> dict[str, Any]:
    """Register the workflow, read the partner from the CRM, record it, mark it in review in the CRM."""
    from execution_plane.hooks.crm import CrmHook
    from workflows.partner_approval.domain import PartnerProfile

    params = run.params
    with run.saga as saga:
        saga.register()
        with CrmHook() as crm:
            profile = PartnerProfile.model_validate(crm.get_partner(params["partner_id"]))

            def write(cur: Any) -> dict[str, Any]:
                cur.execute(
                    "INSERT INTO partner_approvals (workflow_id, partner_id, partner_name, partner_email,"
                    " profile, stage, status) VALUES (%s, %s, %s, %s, %s::jsonb, 'identified', 'in_review')"
                    " ON CONFLICT (workflow_id) DO NOTHING",
                    (
                        saga.workflow_id,
                        profile.partner_id,
                        profile.name,
                        profile.email,
                        profile.model_dump_json(),
                    ),
                )
                return {"profile": profile.model_dump(mode="json")}

            saga.db_write(
                "partner_identified",
                write,
                request={"partner_id": profile.partner_id},
                compensation=Compensation("partner_approval.close_record", {}),
            )
            saga.call(
                "crm_in_review",
                side_effect="crm.update_partner",
                request={"status": "in_review"},
                call=lambda key: crm.update_partner(
                    profile.partner_id,
                    status="in_review",
                    fields={"workflow_id": saga.workflow_id},
                    idempotency_key=key,
                ),
                compensation=Compensation(
                    "crm.set_partner_status", {"partner_id": profile.partner_id, "status": "rejected"}
                ),
            )
    return profile.model_dump(mode="json")


@compensation("partner_approval.close_record")
def close_record(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Close the approval record as rejected, unless it already ended expired or declined."""
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE partner_approvals SET status = CASE WHEN status IN ('rejected', 'expired', 'declined')"
            " THEN status ELSE 'rejected' END, updated_at = now() WHERE workflow_id = %s",
            (saga.workflow_id,),
        )
    return {"closed": saga.workflow_id}


# ----------------------------------------------------------------------------- fit score
@step
def fit_score(run: Run, profile: dict[str, Any]) -> dict[str, Any]:
    from workflows.partner_approval.domain import PartnerProfile
    from workflows.partner_approval.domain import fit_score as score

    fit = score(PartnerProfile.model_validate(profile))
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE partner_approvals SET fit_score = %s, fit_band = %s, fit_factors = %s::jsonb,"
                " stage = 'scored', updated_at = now() WHERE workflow_id = %s",
                (fit.score, fit.band, fit.model_dump_json(include={"factors"}), saga.workflow_id),
            )
            return fit.model_dump(mode="json")

        saga.db_write("fit_score", write, request={"version": fit.version, "score": fit.score})
    log.info(
        "fit score %s (%s): %s",
        fit.score,
        fit.band,
        "; ".join(f"{f.name} {f.points}/{f.weight}: {f.explanation}" for f in fit.factors),
    )
    return fit.model_dump(mode="json")


# ----------------------------------------------------------------------------- term sheet
@step
def draft_term_sheet(
    run: Run,
    profile: dict[str, Any],
    fit: dict[str, Any],
    round_no: int,
    counter: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Draft revision ``round_no`` (a counter-proposal from the previous round moves the terms)."""
    from workflows.partner_approval.domain import (
        CounterProposal,
        FitScore,
        PartnerProfile,
        term_sheet_pdf,
        terms_message,
    )
    from workflows.partner_approval.domain import draft_term_sheet as draft

    partner = PartnerProfile.model_validate(profile)
    with run.saga as saga:
        sheet = draft(
            partner,
            FitScore.model_validate(fit),
            revision=round_no,
            counter_proposal=CounterProposal.model_validate(counter) if counter else None,
            issued_on=saga.started_on(),
        )
        pdf = term_sheet_pdf(sheet)
        doc = saga.store_document(f"term_sheet.r{round_no}", kind="term_sheet", data=pdf)

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "INSERT INTO term_sheets (workflow_id, revision, sha256, terms, terms_sha256, status)"
                " VALUES (%s, %s, %s, %s::jsonb, %s, 'drafted')"
                " ON CONFLICT (workflow_id, revision) DO NOTHING",
                (
                    saga.workflow_id,
                    round_no,
                    doc["sha256"],
                    sheet.model_dump_json(include={"terms"}),
                    sheet.terms_sha256,
                ),
            )
            cur.execute(
                "UPDATE partner_approvals SET stage = %s, round = %s, updated_at = now()"
                " WHERE workflow_id = %s",
                (f"term_sheet_r{round_no}", round_no, saga.workflow_id),
            )
            return {"revision": round_no}

        saga.db_write(
            f"term_sheet_record.r{round_no}",
            write,
            request={"sha256": doc["sha256"]},
            compensation=Compensation("partner_approval.retract_term_sheet", {"revision": round_no}),
        )
    message = terms_message(partner, sheet)
    return {
        "revision": round_no,
        "sha256": doc["sha256"],
        "uri": doc["uri"],
        "terms": sheet.terms,
        "terms_sha256": sheet.terms_sha256,
        "adjustments": sheet.adjustments,
        "message": {"subject": message.subject, "body": message.body},
    }


@compensation("partner_approval.retract_term_sheet")
def retract_term_sheet(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Mark the term sheet revision retracted (its PDF is retracted by its own undo)."""
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE term_sheets SET status = 'retracted', updated_at = now()"
            " WHERE workflow_id = %s AND revision = %s",
            (saga.workflow_id, args["revision"]),
        )
    return {"retracted_revision": args["revision"]}


# ----------------------------------------------------------------------------- partner sent terms
@step
def send_terms(run: Run, profile: dict[str, Any], sheet: dict[str, Any], round_no: int) -> dict[str, Any]:
    """Email + WhatsApp the terms, mark them sent, update the CRM.

    Only the first contact carries the undo "notify the partner of the rejection": a partner hears about a
    rejection once, and only a partner who was contacted hears about it at all.
    """
    from execution_plane.hooks.crm import CrmHook
    from workflows.partner_approval.domain import PartnerProfile

    partner = PartnerProfile.model_validate(profile)
    with run.saga as saga:
        key = run.correlation_key("round", round_no)
        subject = sheet["message"]["subject"]
        body = (
            f"{sheet['message']['body']}\n\nTo answer, reply with reference {key}.\nDocument: {sheet['uri']}"
        )
        notice = (
            Compensation(
                "message.notify",
                {
                    "channel": "email",
                    "to": partner.email,
                    "subject": "Update on our partnership proposal",
                    "body": REJECTION_NOTICE,
                    "template": "partner_rejection",
                },
            )
            if round_no == 1
            else None
        )
        email = saga.send_message(
            f"send_terms.r{round_no}.email",
            channel="email",
            to=partner.email,
            template=f"partner_terms_r{round_no}",
            subject=subject,
            body=body,
            compensation=notice,
        )
        whatsapp = saga.send_message(
            f"send_terms.r{round_no}.whatsapp",
            channel="whatsapp",
            to=partner.whatsapp,
            template="partner_terms_notice",
            body=f"{subject}: terms sent to {partner.email} (ref {key}).",
        )

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE term_sheets SET status = 'sent', updated_at = now()"
                " WHERE workflow_id = %s AND revision = %s",
                (saga.workflow_id, round_no),
            )
            cur.execute(
                "UPDATE partner_approvals SET stage = %s, status = 'negotiating', updated_at = now()"
                " WHERE workflow_id = %s",
                (f"terms_sent_r{round_no}", saga.workflow_id),
            )
            # The answer deadline is fixed once, when the terms go out; a retry replays it from the ledger.
            cur.execute(
                "SELECT now() + make_interval(secs => %s)",
                (float(run.params["partner_response_timeout_hours"]) * 3600,),
            )
            return {"round": round_no, "respond_by": cur.fetchone()[0].isoformat()}

        sent = saga.db_write(f"terms_sent_record.r{round_no}", write, request={"round": round_no})
        with CrmHook() as crm:
            saga.call(
                f"crm_terms_sent.r{round_no}",
                side_effect="crm.update_partner",
                request={"status": "terms_sent", "round": round_no},
                call=lambda k: crm.update_partner(
                    partner.partner_id,
                    status="terms_sent",
                    fields={"term_sheet_sha256": sheet["sha256"], "round": round_no},
                    idempotency_key=k,
                ),
            )
    return {
        "correlation_key": key,
        "respond_by": sent["respond_by"],
        "email": email["message_id"],
        "whatsapp": whatsapp["message_id"],
    }


# ----------------------------------------------------------------------------- partner negotiation
@routed_step
def route_response(run: Run, outcome: dict[str, Any], round_no: int) -> dict[str, Any]:
    """Record the partner's answer for the round; ``next``: executive_approval, legal_review (a counter:
    the next round), or a bad ending (expired, declined, rounds_exhausted)."""
    from workflows.partner_approval.domain import PartnerResponse, next_negotiation_step

    max_rounds = min(int(run.params["max_negotiation_rounds"]), MAX_ROUNDS)
    if outcome["status"] == "expired":
        next_step = "expired"
        details: dict[str, Any] = {"reason": f"partner did not answer round {round_no} in time"}
        response_kind, payload, event_id = "timeout", {"timeout_at": outcome.get("timeout_at")}, None
    else:
        event = outcome["event"]
        # The inbox row's payload is the whole webhook body; the partner's answer is that body's payload.
        body = event.get("payload") or {}
        payload = dict(body.get("payload") or {}) if isinstance(body, dict) else {}
        kind = {"partner.accepted": "accept", "partner.countered": "counter", "partner.declined": "decline"}[
            event["event_type"]
        ]
        try:
            response = PartnerResponse.model_validate({**payload, "kind": kind})
        except ValueError as exc:
            # A malformed answer is the partner's, not ours: treat it as a decline with the reason kept.
            response = PartnerResponse(kind="decline", note=f"unreadable answer: {exc}"[:300])
        next_step = next_negotiation_step(response, round_no, max_rounds)
        details = {
            "counter": response.counter_proposal().model_dump(mode="json")
            if response.kind == "counter"
            else None,
            "reason": {
                "declined": f"partner declined in round {round_no}: {response.note}".strip(": "),
                "rounds_exhausted": f"no agreement after {max_rounds} negotiation rounds",
            }.get(next_step),
        }
        response_kind, event_id = response.kind, event.get("event_id")
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            import json

            cur.execute(
                "INSERT INTO negotiation_rounds (workflow_id, round, event_id, response, payload, next_step)"
                " VALUES (%s, %s, %s, %s, %s::jsonb, %s) ON CONFLICT (workflow_id, round) DO NOTHING",
                (
                    saga.workflow_id,
                    round_no,
                    event_id,
                    response_kind,
                    json.dumps(payload, default=str),
                    next_step,
                ),
            )
            if next_step == "executive_approval":
                cur.execute(
                    "UPDATE term_sheets SET status = 'accepted', updated_at = now()"
                    " WHERE workflow_id = %s AND revision = %s",
                    (saga.workflow_id, round_no),
                )
            return {"next_step": next_step, **details}

        recorded = saga.db_write(
            f"negotiation.r{round_no}",
            write,
            request={"round": round_no, "event_id": event_id, "kind": response_kind},
        )
    return {"next": recorded["next_step"], **recorded}


@step
def negotiation_ended(run: Run, route: dict[str, Any], round_no: int) -> None:
    """The negotiation ended without agreement (declined, out of rounds, no answer in time)."""
    expired = route["next_step"] == "expired"
    _record_bad_ending(run, "expired" if expired else "declined", f"negotiation_r{round_no}")
    run.end_badly("expired" if expired else "rejected", route["reason"])


# ----------------------------------------------------------------------------- activation
@step
def activate(run: Run, profile: dict[str, Any]) -> dict[str, Any]:
    """Activate the partner on the accepted revision of the terms."""
    from execution_plane.hooks.crm import CrmHook
    from workflows.partner_approval.domain import PartnerProfile, TermSheet, activation_message

    partner = PartnerProfile.model_validate(profile)
    with run.saga as saga:
        sheet = _accepted_sheet(saga)
        with CrmHook() as crm:
            saga.call(
                "crm_activate",
                side_effect="crm.update_partner",
                request={"status": "active"},
                call=lambda k: crm.update_partner(
                    partner.partner_id,
                    status="active",
                    fields={"term_sheet_sha256": sheet["sha256"]},
                    idempotency_key=k,
                ),
            )
        accepted = TermSheet.model_construct(terms=sheet["terms"], revision=sheet["revision"])
        message = activation_message(partner, accepted, activated_on=saga.started_on())
        saga.send_message(
            "activation.email",
            channel="email",
            to=partner.email,
            template="partner_activation",
            subject=message.subject,
            body=message.body,
        )

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE partner_approvals SET stage = 'activated', status = 'activated',"
                " updated_at = now() WHERE workflow_id = %s",
                (saga.workflow_id,),
            )
            return {"activated": True}

        saga.db_write("activated_record", write, request={"sha256": sheet["sha256"]})
    return {"partner_id": partner.partner_id, "status": "active"}


def _accepted_sheet(saga: Any) -> dict[str, Any]:
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT revision, sha256, terms FROM term_sheets WHERE workflow_id = %s AND status = 'accepted'",
            (saga.workflow_id,),
        )
        row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"{saga.workflow_id}: activation without an accepted term sheet")
    return {"revision": row[0], "sha256": row[1], "terms": row[2]["terms"]}


def record_not_approved(run: Run, decision: dict[str, Any]) -> None:
    """A gate did not approve: the partner record says so, at that gate (before compensation starts)."""
    _record_bad_ending(run, str(decision["status"]), str(decision["gate"]))


def _record_bad_ending(run: Run, status: str, stage: str) -> None:
    """Business-table status of a rejected/expired/declined approval (before compensation starts)."""
    table_status = {"rejected": "rejected", "expired": "expired", "declined": "declined"}[status]
    saga = run.saga
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE partner_approvals SET status = %s, stage = %s, updated_at = now() WHERE workflow_id = %s",
            (table_status, stage, saga.workflow_id),
        )
