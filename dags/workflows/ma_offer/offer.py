"""The offer: its basis, its record and deal room, each version of its terms, the board's brief, and the
offer sent to the target; the undos that withdraw it, archive the room and close the record."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, step
from execution_plane.saga.compensations import compensation
from workflows.ma_offer.common import deadline, is_signed, offer_row, version_terms

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- basis and record
@step
def offer_basis(run: Run) -> dict[str, Any]:
    """What the price comes from: the deal's standing DD (dd_room's tables), or the run's base valuation.

    Reads only, registers nothing: an offer with no basis is refused before anything is recorded or sent
    (the DAG lists this task in ``fails_before_effects``)."""
    from airflow.sdk.exceptions import AirflowFailException

    from workflows.ma_offer.domain import DdValuation, NoOfferBasis, choose_basis

    params = run.params
    with run.open_saga(register=False) as saga, saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT r.workflow_id, r.status, v.base_valuation_usd, v.adjusted_valuation_usd,"
            " v.total_adjustment_pct FROM dd_rooms r JOIN valuation_impacts v USING (workflow_id)"
            " WHERE r.deal_id = %s ORDER BY r.updated_at DESC, r.workflow_id",
            (params["deal_id"],),
        )
        rooms = [
            DdValuation(
                workflow_id=wf,
                status=status,
                base_valuation_usd=float(base),
                adjusted_valuation_usd=float(adjusted),
                total_adjustment_pct=float(pct),
            )
            for wf, status, base, adjusted, pct in cur.fetchall()
        ]
    try:
        basis = choose_basis(rooms, params.get("base_valuation_usd"), str(params["deal_id"]))
    except NoOfferBasis as exc:
        raise AirflowFailException(f"no basis for an offer: {exc}; nothing recorded, nothing sent") from None
    log.info("offer basis of %s: %s", run.workflow_id, basis.explanation)
    return basis.model_dump(mode="json")


@step
def open_offer(run: Run, basis: dict[str, Any]) -> dict[str, Any]:
    """Register the workflow, record the offer, open its deal room, mark the CRM deal in offer preparation."""
    from execution_plane.hooks.crm import CrmHook
    from execution_plane.hooks.docstore import DocstoreHook
    from execution_plane.saga.compensations import Compensation

    params = run.params
    deal_id = str(params["deal_id"])
    room_id = f"ma-{run.request_id}"
    with run.saga as saga:
        saga.register()

        def write(cur: Any) -> dict[str, Any]:
            import json

            cur.execute(
                "INSERT INTO ma_offers (workflow_id, deal_id, target_company, target_contact_email, basis,"
                " status, stage, room_id) VALUES (%s, %s, %s, %s, %s::jsonb, 'preparing', 'opened', %s)"
                " ON CONFLICT (workflow_id) DO NOTHING",
                (
                    saga.workflow_id,
                    deal_id,
                    params["target_company"],
                    params["target_contact_email"],
                    json.dumps(basis),
                    room_id,
                ),
            )
            return {"room_id": room_id}

        saga.db_write(
            "offer.record",
            write,
            request={"deal_id": deal_id},
            compensation=Compensation("ma_offer.close_record"),
        )
        with DocstoreHook() as docstore, CrmHook() as crm:
            saga.call(
                "deal_room",
                side_effect="docstore.create_room",
                request={"room_id": room_id},
                call=lambda key: docstore.create_room(
                    room_id, f"M&A offer: {params['target_company']} ({deal_id})", idempotency_key=key
                ),
                compensation=Compensation("ma_offer.archive_room", {"room_id": room_id}),
            )
            saga.call(
                "crm_offer_preparation",
                side_effect="crm.update_deal",
                request={"status": "offer_preparation"},
                call=lambda key: crm.update_deal(
                    deal_id,
                    status="offer_preparation",
                    fields={"workflow_id": saga.workflow_id, "offer_room_id": room_id},
                    idempotency_key=key,
                ),
                compensation=Compensation(
                    "ma_offer.reset_deal_status", {"deal_id": deal_id, "status": "offer_withdrawn"}
                ),
            )
    return {"room_id": room_id, "deal_id": deal_id}


@compensation("ma_offer.close_record")
def close_record(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """The offer record and every version still open end withdrawn (a recorded bad ending is kept).

    A signed offer is kept as it is."""
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ma_offers SET status = CASE WHEN status IN ('rejected', 'expired', 'failed', 'signed')"
            " THEN status ELSE 'withdrawn' END, reason = COALESCE(reason, %s), updated_at = now()"
            " WHERE workflow_id = %s",
            (reason[:2000], saga.workflow_id),
        )
        cur.execute(
            "UPDATE ma_offer_versions SET status = 'withdrawn', updated_at = now() WHERE workflow_id = %s"
            " AND status IN ('drafted', 'approved', 'sent', 'agreed')"
            " AND NOT EXISTS (SELECT 1 FROM ma_offers WHERE workflow_id = %s AND status = 'signed')",
            (saga.workflow_id, saga.workflow_id),
        )
        withdrawn = cur.rowcount
        cur.execute("SELECT status FROM ma_offers WHERE workflow_id = %s", (saga.workflow_id,))
        row = cur.fetchone()
    return {"offer_status": row[0] if row else None, "versions_withdrawn": withdrawn}


@compensation("ma_offer.archive_room")
def archive_room(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Archive the deal room (closed to uploads, kept as the record); a signed deal keeps its room open."""
    from execution_plane.saga.compensations import archive_room as toolkit_archive

    if is_signed(saga):
        return {"room_id": args["room_id"], "kept": "the offer is signed"}
    return toolkit_archive(saga, args, reason, key)


@compensation("ma_offer.reset_deal_status")
def reset_deal_status(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """The CRM deal leaves offer preparation (``offer_withdrawn``, with the reason); a signed deal stays."""
    from execution_plane.saga.compensations import set_deal_status

    if is_signed(saga):
        return {"deal_id": args["deal_id"], "kept": "the offer is signed"}
    return set_deal_status(saga, args, reason, key)


# ----------------------------------------------------------------------------- versions
def store_version(
    saga: Saga, terms: Any, *, source: str, step_name: str, request: dict[str, Any]
) -> dict[str, Any]:
    """Record version ``terms.version`` (drafted; the version before it superseded) and store its letter.

    The record comes first and carries the letter's sha256: a retry replays it, and the letter rendered from
    the same terms is the same bytes, stored once."""
    import hashlib
    import json

    from workflows.ma_offer.domain import offer_letter_pdf

    pdf = offer_letter_pdf(terms)
    sha = hashlib.sha256(pdf).hexdigest()

    def write(cur: Any) -> dict[str, Any]:
        cur.execute(
            "INSERT INTO ma_offer_versions (workflow_id, version, source, price_usd, terms, terms_sha256,"
            " document_sha256, changes, status) VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s::jsonb,"
            " 'drafted') ON CONFLICT (workflow_id, version) DO NOTHING",
            (
                saga.workflow_id,
                terms.version,
                source,
                terms.price_usd,
                terms.model_dump_json(),
                terms.terms_sha256,
                sha,
                json.dumps(list(terms.changes)),
            ),
        )
        cur.execute(
            "UPDATE ma_offer_versions SET status = 'superseded', updated_at = now()"
            " WHERE workflow_id = %s AND version < %s AND status IN ('drafted', 'approved', 'sent')",
            (saga.workflow_id, terms.version),
        )
        cur.execute(
            "UPDATE ma_offers SET version = %s, stage = %s, updated_at = now() WHERE workflow_id = %s",
            (terms.version, f"version_{terms.version}", saga.workflow_id),
        )
        return {"version": terms.version, "document_sha256": sha}

    recorded = saga.db_write(step_name, write, request=request)
    doc = saga.store_document(
        f"offer_letter.v{terms.version}", kind="ma_offer_letter", data=pdf, compensation=False
    )
    assert doc["sha256"] == recorded["document_sha256"], (doc["sha256"], recorded)
    return {
        "version": terms.version,
        "price_usd": terms.price_usd,
        "terms_sha256": terms.terms_sha256,
        "document_sha256": doc["sha256"],
        "document_uri": doc["uri"],
    }


@step
def prepare_offer(
    run: Run, basis: dict[str, Any], round_no: int, reviews: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Version ``round_no`` of the offer: priced from the basis (round 1), or the previous version revised
    with the change requests of the previous review round."""
    from workflows.ma_offer.domain import (
        OfferBasis,
        OfferTerms,
        ReviewerChange,
        price_offer,
        revise_offer,
    )

    params = run.params
    with run.saga as saga:
        issued_on = saga.started_on()
        if round_no == 1:
            terms = price_offer(
                OfferBasis.model_validate(basis),
                premium_pct=float(params["offer_premium_pct"]),
                deal_id=str(params["deal_id"]),
                target_company=str(params["target_company"]),
                acquirer=str(params["acquirer"]),
                issued_on=issued_on,
            )
        else:
            previous = OfferTerms.model_validate(version_terms(saga, round_no - 1))
            requests = [ReviewerChange.model_validate(r) for r in (reviews or {}).get("requests", [])]
            terms = revise_offer(previous, requests, issued_on=issued_on)
        version = store_version(
            saga,
            terms,
            source="prepared" if round_no == 1 else "reviews",
            step_name=f"offer_version.v{terms.version}",
            request={"round": round_no, "terms_sha256": terms.terms_sha256},
        )

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE ma_offers SET status = 'in_review', stage = %s, updated_at = now()"
                " WHERE workflow_id = %s",
                (f"review_r{round_no}", saga.workflow_id),
            )
            return {"round": round_no}

        saga.db_write(f"offer_in_review.r{round_no}", write, request={"version": terms.version})
    return {**version, "round": round_no, "terms": terms.terms}


# ----------------------------------------------------------------------------- board
@step(trigger_rule="one_success")
def board_brief(run: Run) -> dict[str, Any]:
    """What the board reads: the version the reviewers signed off, its price and structure, its basis."""
    from workflows.ma_offer.domain import OfferTerms

    with run.saga as saga:
        offer = offer_row(saga)
        terms = OfferTerms.model_validate(version_terms(saga, int(offer["version"])))

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE ma_offers SET status = 'board_review', stage = 'board_approval', updated_at = now()"
                " WHERE workflow_id = %s",
                (saga.workflow_id,),
            )
            return {"version": terms.version}

        saga.db_write("board_review", write, request={"version": terms.version})
    return {"version": terms.version, "body": brief(terms, "Counsel and the financial advisors signed off.")}


def brief(terms: Any, why: str) -> str:
    earn_out = f", earn-out up to USD {terms.earn_out_usd:,}" if terms.earn_out_usd else ""
    return (
        f"{why}\nOffer version {terms.version} to acquire {terms.target_company} (deal {terms.deal_id}): "
        f"USD {terms.price_usd:,} in cash, USD {terms.cash_at_close_usd:,} at close, escrow "
        f"USD {terms.escrow_usd:,} ({terms.escrow_pct:g}%){earn_out}.\nBasis: {terms.basis}\n"
        "Approve or reject with a comment."
    )


def approve_version(saga: Saga, version: int) -> dict[str, Any]:
    """The board approved ``version``: it is the price the deal team is held to from now on."""

    def write(cur: Any) -> dict[str, Any]:
        cur.execute(
            "UPDATE ma_offer_versions SET status = 'approved', updated_at = now()"
            " WHERE workflow_id = %s AND version = %s AND status = 'drafted'",
            (saga.workflow_id, version),
        )
        cur.execute(
            "UPDATE ma_offers SET board_price_usd = v.price_usd, updated_at = now() FROM ma_offer_versions v"
            " WHERE ma_offers.workflow_id = %s AND v.workflow_id = ma_offers.workflow_id AND v.version = %s",
            (saga.workflow_id, version),
        )
        return {"version": version}

    return saga.db_write(f"board_approved.v{version}", write, request={"version": version})


def send_version(
    run: Run,
    saga: Saga,
    version: int,
    *,
    step_name: str,
    template: str,
    respond_hint: str,
    undo: Any,
    revised: bool,
) -> dict[str, Any]:
    """Email version ``version`` of the offer to the target's contact and mark it sent."""
    from workflows.ma_offer.domain import OfferTerms, offer_message

    params = run.params
    terms = OfferTerms.model_validate(version_terms(saga, version))
    message = offer_message(
        terms,
        str(params["target_contact_name"]),
        respond_hint=respond_hint,
        reference=run.correlation_key(),
        revised=revised,
    )
    sent = saga.send_message(
        step_name,
        channel="email",
        to=str(params["target_contact_email"]),
        template=template,
        subject=message.subject,
        body=message.body,
        compensation=undo,
    )

    def write(cur: Any) -> dict[str, Any]:
        cur.execute(
            "UPDATE ma_offer_versions SET status = 'sent', updated_at = now()"
            " WHERE workflow_id = %s AND version = %s AND status = 'approved'",
            (saga.workflow_id, version),
        )
        return {"version": version}

    saga.db_write(f"{step_name}.record", write, request={"version": version})
    return {"version": version, "price_usd": terms.price_usd, "message_id": sent["message_id"]}


@step
def send_offer(run: Run) -> dict[str, Any]:
    """The board approved: the offer goes to the target, once (the commitment). Its undo tells the target,
    once, that the offer is withdrawn: the one notice covers every later version too."""
    from execution_plane.hooks.crm import CrmHook
    from execution_plane.saga.compensations import Compensation
    from workflows.ma_offer.domain import withdrawal_notice

    params = run.params
    with run.saga as saga:
        version = int(offer_row(saga)["version"])
        approve_version(saga, version)
        notice = withdrawal_notice(
            str(params["target_company"]), str(params["target_contact_name"]), str(params["acquirer"])
        )
        sent = send_version(
            run,
            saga,
            version,
            step_name="offer_sent",
            template="ma_offer",
            respond_hint="The offer is subject to regulatory clearance; we will ask for your answer once the "
            "regulator has decided.",
            revised=False,
            undo=Compensation(
                "ma_offer.withdraw_offer",
                {
                    "channel": "email",
                    "to": str(params["target_contact_email"]),
                    "subject": notice.subject,
                    "body": notice.body,
                    "template": "ma_offer_withdrawn",
                },
            ),
        )

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE ma_offers SET status = 'offered', stage = 'offer_sent', updated_at = now()"
                " WHERE workflow_id = %s",
                (saga.workflow_id,),
            )
            return {"version": version}

        saga.db_write("offer_sent_status", write, request={"version": version})
        with CrmHook() as crm:
            saga.call(
                "crm_offer_sent",
                side_effect="crm.update_deal",
                request={"status": "offer_sent", "version": version},
                call=lambda key: crm.update_deal(
                    str(params["deal_id"]),
                    status="offer_sent",
                    fields={"offer_version": version, "offer_price_usd": sent["price_usd"]},
                    idempotency_key=key,
                ),
            )
    return sent


@compensation("ma_offer.withdraw_offer")
def withdraw_offer(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Tell the target, once, that the offer is withdrawn; never after it was signed."""
    from execution_plane.saga.compensations import notify

    if is_signed(saga):
        return {"skipped": "the offer is signed: nothing is withdrawn"}
    return notify(saga, args, reason, key)


@step
def send_revised_offer(run: Run, round_no: int) -> dict[str, Any]:
    """The board approved the target's counter as a revised offer: it goes to the target for round
    ``round_no``, with the deadline of its answer (fixed once)."""
    with run.saga as saga:
        version = int(offer_row(saga)["version"])
        approve_version(saga, version)
        sent = send_version(
            run,
            saga,
            version,
            step_name=f"revised_offer_sent.r{round_no}",
            template=f"ma_offer_revised_r{round_no}",
            respond_hint="Please accept, counter with your price, or reject.",
            undo=None,
            revised=True,
        )

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE ma_offers SET status = 'negotiating', stage = %s, updated_at = now()"
                " WHERE workflow_id = %s",
                (f"negotiation_r{round_no}", saga.workflow_id),
            )
            return {"respond_by": deadline(cur, float(run.params["target_response_timeout_hours"]))}

        asked = saga.db_write(f"response_requested.r{round_no}", write, request={"version": version})
    return {
        **sent,
        "respond_by": asked["respond_by"],
        "correlation_key": run.correlation_key("response", round_no),
    }
