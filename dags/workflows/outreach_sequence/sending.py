"""A message of the sequence, when its time comes: consent checked, personalised, sent once on the first
channel that takes it, the next one planned. Or the sequence stops, because the recipient acted."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, routed_step
from workflows.outreach_sequence.common import (
    RECIPIENT_EVENTS,
    contact_of,
    db_now,
    enrolment,
    messages_key,
    window_of,
)
from workflows.outreach_sequence.enrolment import schedule_message

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga
    from workflows.outreach_sequence.domain import Contact, Template

log = logging.getLogger(__name__)


@routed_step
def due(run: Run, waited: dict[str, Any], step_no: int) -> dict[str, Any]:
    """The wait before message ``step_no`` ended; ``next``:

    - ``next``: the message went out (the next one, or the reply window, is due at ``send_at``), or an act of
      the recipient came in just before it would have (not sent: the next wait picks the act up at once);
    - ``ended``: the recipient acted (replied, opted out, bounced, complained: the event is recorded), no
      channel the contact consents to now or every channel refused it (recorded), or this is the wait
      after the last message (``step_no`` past ``max_messages``) and it ran out: ``conclude`` reads which.

    Resumed outside the contact's send window (a stack that was down when the time came), it waits again,
    holding nothing (up for reschedule), until the window opens."""
    params = run.params
    with run.saga as saga:
        if waited.get("status") == "received":
            return {"next": "ended", **_record_stop_event(saga, waited["event"], step_no)}
        if step_no > int(params["max_messages"]):
            return {"next": "ended", "reason": "reply window over"}
        enrolled = enrolment(run)
        contact = contact_of(enrolled)
        if saga.stored_result(f"sent.{step_no}", {"step_no": step_no}) is None:
            hold_outside_window(contact, params, datetime.now(UTC))
        go = saga.db_write(
            f"due.{step_no}", lambda cur: _go_or_hold(cur, run, step_no), request={"step_no": step_no}
        )
        if not go["send"]:
            return {"next": "next", "send_at": go["at"], "sent": False}
        checked = saga.db_write(
            f"consent.{step_no}",
            lambda cur: _consent(cur, saga.workflow_id, contact, enrolled["channels"], step_no),
            request={"step_no": step_no},
        )
        if not checked["channels"]:
            return {"next": "ended", "reason": checked["reason"]}
        sent, attempts = _send_with_fallback(run, saga, enrolled, contact, checked["channels"], step_no)
        if sent is None:
            reason = f"message {step_no}: every channel refused it: " + "; ".join(
                f"{a['channel']} ({a['status']})" for a in attempts
            )
            saga.db_write(
                f"undeliverable.{step_no}",
                lambda cur: _undeliverable(
                    cur, saga.workflow_id, step_no, "channels_failed", reason, attempts
                ),
                request={"step_no": step_no},
            )
            return {"next": "ended", "reason": reason}
        recorded = saga.db_write(
            f"sent.{step_no}",
            lambda cur: _sent(cur, run, contact, step_no, sent, attempts),
            request={"step_no": step_no},
        )
        if step_no < int(params["max_messages"]):
            after = datetime.fromisoformat(recorded["sent_at"]) + timedelta(
                hours=float(params["follow_up_after_hours"])
            )
            following = schedule_message(run, saga, step_no + 1, after=after)
            send_at = following["send_at"]
        else:
            send_at = recorded["reply_by"]
    log.info("message %s of %s sent on %s; next due %s", step_no, run.workflow_id, sent["channel"], send_at)
    return {"next": "next", "send_at": send_at, "sent": True, "channel": sent["channel"]}


def hold_outside_window(contact: Contact, params: Any, now: datetime) -> None:
    """Outside the contact's send window (a run resumed late), wait for it to open again: up for reschedule
    until then, holding nothing."""
    from airflow.sdk.exceptions import AirflowRescheduleException

    from include.domain.quiet_hours import next_allowed

    allowed = next_allowed(now, contact.time_zone, contact.country, window_of(params))
    if allowed > now:
        log.warning("message for %s due outside the send window: held until %s", contact.contact_id, allowed)
        raise AirflowRescheduleException(allowed)


def _record_stop_event(saga: Saga, event: dict[str, Any], step_no: int) -> dict[str, Any]:
    import json

    def write(cur: Any) -> dict[str, Any]:
        cur.execute(
            "UPDATE outreach_sequences SET reply = %s::jsonb, updated_at = now() WHERE workflow_id = %s",
            (json.dumps({"event": event, "during_wait": step_no}), saga.workflow_id),
        )
        return {"event_id": event["event_id"], "event_type": event["event_type"]}

    return saga.db_write("stop_event", write, request={"event_id": event["event_id"]})


def _go_or_hold(cur: Any, run: Run, step_no: int) -> dict[str, Any]:
    """Send, unless an act of the recipient came in since the wait ended (it would otherwise get one more
    message after a reply): then the message is cancelled and the next wait, due now, picks the act up."""
    from execution_plane.saga import records

    now = db_now(cur)
    kinds = {f"event:{event_type}" for event_type in RECIPIENT_EVENTS}
    acted = [
        r.ref
        for r in records.workflow_records(
            cur, run.workflow_id, until=now, correlation_keys=[messages_key(run)]
        )
        if r.kind in kinds
    ]
    if not acted:
        return {"send": True}
    cur.execute(
        "UPDATE outreach_sends SET status = 'cancelled', cancelled_at = now(), cancel_reason = %s"
        " WHERE workflow_id = %s AND step_no = %s AND status = 'scheduled'",
        (f"the recipient acted before it went out ({acted[0]})", run.workflow_id, step_no),
    )
    return {"send": False, "at": now.isoformat(), "event_id": acted[0]}


def _consent(
    cur: Any, workflow_id: str, enrolled: Contact, channels: list[str], step_no: int
) -> dict[str, Any]:
    """The contact's consent as the CRM holds it now (read before every send), and the channels it leaves."""
    import json

    from execution_plane.hooks.crm import CrmHook
    from workflows.outreach_sequence.domain import Contact, consented

    with CrmHook() as hook:
        current = Contact.model_validate(hook.get_contact(enrolled.contact_id))
    allowed = consented(current, channels)
    cur.execute(
        "UPDATE outreach_sends SET consent = %s::jsonb WHERE workflow_id = %s AND step_no = %s",
        (json.dumps(current.consent), workflow_id, step_no),
    )
    reason = None
    if not allowed:
        reason = f"message {step_no}: the contact consents to none of {channels} any more"
        _undeliverable(cur, workflow_id, step_no, "no_consent", reason, [])
    return {"channels": allowed, "consent": current.consent, "reason": reason}


def _undeliverable(
    cur: Any, workflow_id: str, step_no: int, outcome: str, reason: str, attempts: list[dict[str, Any]]
) -> dict[str, Any]:
    import json

    cur.execute(
        "UPDATE outreach_sends SET status = 'undeliverable', attempts = %s::jsonb"
        " WHERE workflow_id = %s AND step_no = %s AND status = 'scheduled'",
        (json.dumps(attempts), workflow_id, step_no),
    )
    cur.execute(
        "UPDATE outreach_sequences SET outcome = %s, reason = %s, updated_at = now() WHERE workflow_id = %s",
        (outcome, reason[:2000], workflow_id),
    )
    return {"outcome": outcome, "reason": reason}


def _unknown_outcome(exc: Exception) -> bool:
    """The provider may have taken the message (no answer, a lost response, the key still in use): only a
    retry with the same key can tell; falling back now could send it twice."""
    status = getattr(exc, "status", None)
    return status in (0, 504) or (status == 409 and bool(getattr(exc, "retryable", False)))


def _send_with_fallback(
    run: Run, saga: Saga, enrolled: dict[str, Any], contact: Contact, channels: list[str], step_no: int
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Send on the first channel that takes the message; each refusal is recorded before the next channel is
    tried, so a retry never tries a channel that refused (nor sends twice on one that took it)."""
    from execution_plane.hooks.http import ProviderError
    from workflows.outreach_sequence.domain import template_for, with_footer

    params = run.params
    language = str(enrolled["language"])
    template = template_for(str(params["campaign"]), step_no, int(params["max_messages"]), language)
    attempts: list[dict[str, Any]] = []
    for channel in channels:
        refused = saga.stored_result(f"attempt.{step_no}.{channel}", {"channel": channel})
        if refused is not None:
            attempts.append(refused)
            continue
        address = contact.address(channel) or ""
        try:
            _open_conversation(run, saga, channel, address)
            text = _personalised(saga, enrolled, contact, template, channel, step_no)
            body = with_footer(text["text"], language, channel)
            sent = saga.send_message(
                f"message.{step_no}.{channel}",
                channel=channel,
                to=address,
                template=template.key,
                subject=text["subject"] if channel == "email" else None,
                body=body,
            )
        except ProviderError as exc:
            if _unknown_outcome(exc):
                raise
            log.warning(
                "message %s of %s: %s refused it (%s); next channel", step_no, run.workflow_id, channel, exc
            )
            failure: dict[str, Any] = {"channel": channel, "status": exc.status, "error": str(exc)[:300]}
            attempts.append(_record_refusal(saga, step_no, failure))
            continue
        attempts.append({"channel": channel, "status": "sent"})
        return {
            **sent,
            "channel": channel,
            "template": template.key,
            "source": text["source"],
            "body_sha256": hashlib.sha256(body.encode()).hexdigest(),
        }, attempts
    return None, attempts


def _record_refusal(saga: Saga, step_no: int, failure: dict[str, Any]) -> dict[str, Any]:
    return saga.db_write(
        f"attempt.{step_no}.{failure['channel']}",
        lambda _cur: failure,
        request={"channel": failure["channel"]},
    )


def _open_conversation(run: Run, saga: Saga, channel: str, address: str) -> dict[str, Any]:
    """Once per channel: the provider reports what the recipient does with our messages under our key."""
    from execution_plane.hooks.messaging import MessagingHook

    key = messages_key(run)
    with MessagingHook(channel) as hook:
        return saga.call(
            f"conversation.{channel}",
            side_effect=f"{channel}.open_conversation",
            request={"address": address, "correlation_key": key},
            call=lambda idem: hook.open_conversation(
                address=address, correlation_key=key, idempotency_key=idem
            ),
        )


def _personalised(
    saga: Saga, enrolled: dict[str, Any], contact: Contact, template: Template, channel: str, step_no: int
) -> dict[str, Any]:
    """The template rendered for the contact, rewritten by the LLM in their language (and dialect), checked;
    the draft when the rewrite fails its check or the model cannot be reached. Recorded once."""
    from execution_plane.hooks.http import ProviderError
    from execution_plane.hooks.llm import LlmHook
    from workflows.outreach_sequence.domain import accept_rewrite, prompt, render

    language, dialect = str(enrolled["language"]), enrolled["dialect"]
    draft = render(template, contact)
    asked = prompt(contact, draft.body, language=language, dialect=dialect, channel=channel)

    def call(key: str) -> dict[str, Any]:
        with LlmHook() as hook:
            try:
                rewrite: str | None = hook.complete(
                    asked.user, system_prompt=asked.system, idempotency_key=key
                )
            except ProviderError as exc:
                log.warning(
                    "personalisation of message %s on %s: the model failed (%s): the draft",
                    step_no,
                    channel,
                    exc,
                )
                rewrite = None
        text, source = accept_rewrite(rewrite, draft.body, language=language, channel=channel)
        return {"text": text, "source": source, "subject": draft.subject, "dialect": dialect}

    return saga.call(
        f"personalise.{step_no}.{channel}",
        side_effect="llm.complete",
        request={
            "template": template.key,
            "channel": channel,
            "prompt_sha256": hashlib.sha256((asked.system + asked.user).encode()).hexdigest(),
        },
        call=call,
    )


def _sent(
    cur: Any, run: Run, contact: Contact, step_no: int, sent: dict[str, Any], attempts: list[dict[str, Any]]
) -> dict[str, Any]:
    import json

    from include.domain.quiet_hours import local_label

    now = db_now(cur)
    cur.execute(
        "UPDATE outreach_sends SET status = 'sent', channel = %s, message_id = %s, provider_message_id = %s,"
        " attempts = %s::jsonb, body_sha256 = %s, sent_at = %s, local_time = %s"
        " WHERE workflow_id = %s AND step_no = %s AND status = 'scheduled'",
        (
            sent["channel"],
            sent["message_id"],
            sent.get("provider_message_id"),
            json.dumps(attempts),
            sent["body_sha256"],
            now,
            local_label(now, contact.time_zone),
            run.workflow_id,
            step_no,
        ),
    )
    cur.execute(
        "UPDATE outreach_sequences SET messages_sent = messages_sent + 1, updated_at = now()"
        " WHERE workflow_id = %s",
        (run.workflow_id,),
    )
    reply_by = now + timedelta(hours=float(run.params["reply_window_hours"]))
    return {
        "sent_at": now.isoformat(),
        "channel": sent["channel"],
        "message_id": sent["message_id"],
        "source": sent["source"],
        "reply_by": reply_by.isoformat(),
    }
