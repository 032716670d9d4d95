"""Each provider hook's methods against the sandbox: what reaches the provider, what comes back."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from execution_plane.hooks.crm import CrmHook
from execution_plane.hooks.docstore import DocstoreHook
from execution_plane.hooks.esign import EsignHook
from execution_plane.hooks.http import ProviderError
from execution_plane.hooks.llm import LlmHook
from execution_plane.hooks.messaging import MessagingHook
from execution_plane.hooks.research import FinancialsHook, ResearchHook

SIGNERS = [{"email": "signer@example.com", "name": "Signer"}]


def envelope(hook: EsignHook, key: str) -> dict:
    return hook.create_envelope(
        document_sha256="d" * 64,
        document_uri="docstore://objects/" + "d" * 64,
        subject="Agreement",
        signers=SIGNERS,
        correlation_key="wf:1",
        idempotency_key=key,
    )


# ---------------------------------------------------------------------------------------------- eSign
class TestEsignHook:
    def test_create_and_get(self, sandbox):
        hook = EsignHook()
        created = envelope(hook, "create-1")
        assert created["status"] == "sent"
        got = hook.get_envelope(created["envelope_id"])
        assert got["status"] == "sent"
        assert got["signers"] == SIGNERS
        assert got["correlation_key"] == "wf:1"
        [effect] = sandbox.effects(system="esign", action="create_envelope")
        assert effect["idempotency_key"] == "create-1"

    def test_void(self, sandbox):
        hook = EsignHook()
        env_id = envelope(hook, "create-1")["envelope_id"]
        voided = hook.void_envelope(env_id, reason="deal rejected", idempotency_key="void-1")
        assert voided["status"] == "voided"
        assert hook.get_envelope(env_id)["void_reason"] == "deal rejected"
        [effect] = sandbox.effects(system="esign", action="void_envelope")
        assert (effect["idempotency_key"], effect["payload"]) == ("void-1", {"reason": "deal rejected"})

    def test_void_is_idempotent(self, sandbox):
        hook = EsignHook()
        env_id = envelope(hook, "create-1")["envelope_id"]
        hook.void_envelope(env_id, reason="r", idempotency_key="void-1")
        # The same key replays; another key finds it already void: both are success.
        assert hook.void_envelope(env_id, reason="r", idempotency_key="void-1")["status"] == "voided"
        again = hook.void_envelope(env_id, reason="r", idempotency_key="void-2")
        assert again["error"] == "already_voided"
        assert len(sandbox.effects(system="esign", action="void_envelope")) == 1

    def test_signed_envelope_cannot_be_voided(self, sandbox):
        hook = EsignHook()
        env_id = envelope(hook, "create-1")["envelope_id"]
        sandbox.post(f"/_sandbox/esign/envelopes/{env_id}/sign?deliver=false")
        with pytest.raises(ProviderError) as err:
            hook.void_envelope(env_id, reason="r", idempotency_key="void-1")
        assert (err.value.status, err.value.retryable) == (409, False)
        assert "envelope_not_voidable" in err.value.body

    def test_void_unknown_envelope(self, sandbox):
        with pytest.raises(ProviderError) as err:
            EsignHook().void_envelope("env_nope", reason="r", idempotency_key="void-x")
        assert err.value.status == 404


# ---------------------------------------------------------------------------------------------- CRM
class TestCrmHook:
    def test_partner(self, sandbox):
        hook = CrmHook()
        partner_id = f"ptn-{uuid.uuid4().hex[:8]}"
        assert hook.get_partner(partner_id)["partner_id"] == partner_id
        updated = hook.update_partner(
            partner_id, status="rejected", fields={"status_reason": "r"}, idempotency_key="p-1"
        )
        assert updated["status"] == "rejected"
        assert hook.get_partner(partner_id)["status_reason"] == "r"
        hook.update_partner(
            partner_id, status="rejected", fields={"status_reason": "r"}, idempotency_key="p-1"
        )
        [effect] = sandbox.effects(system="crm", action="update_partner")
        assert (effect["resource_id"], effect["idempotency_key"]) == (partner_id, "p-1")

    def test_deal(self, sandbox):
        hook = CrmHook()
        assert hook.update_deal("D-1", status="lost", idempotency_key="d-1")["status"] == "lost"
        assert hook.get_deal("D-1")["status"] == "lost"
        assert sandbox.effects(system="crm", action="update_deal")[0]["payload"] == {"status": "lost"}

    def test_note(self, sandbox):
        hook = CrmHook()
        note = hook.add_note("D-1", "signed", idempotency_key="n-1")
        assert hook.add_note("D-1", "signed", idempotency_key="n-1") == note
        assert note["subject_id"] == "D-1"
        assert len(sandbox.effects(system="crm", action="create_note")) == 1


# ---------------------------------------------------------------------------------------------- messaging
class TestMessagingHook:
    @pytest.mark.parametrize(
        ("channel", "extra"),
        [
            ("email", {"subject": "Hi"}),
            ("whatsapp", {"template": "welcome"}),
            ("sms", {}),
        ],
    )
    def test_send(self, sandbox, channel, extra):
        hook = MessagingHook(channel)
        assert hook.conn_id == f"{channel}_default"
        assert hook.system == channel
        sent = hook.send(
            to="+15550001" if channel != "email" else "a@example.com",
            body="Hello",
            message_id="msg_1",
            subject="Hi",
            template="welcome",
        )
        assert sent["status"] == "accepted"
        [effect] = sandbox.effects(system=channel, action="send")
        assert effect["idempotency_key"] == "msg_1"
        assert effect["resource_id"] == sent["provider_message_id"]
        assert effect["payload"]["message_id"] == "msg_1"
        for name, value in extra.items():
            assert effect["payload"][name] == value
        if channel == "sms":
            assert "subject" not in effect["payload"] and "template" not in effect["payload"]

    def test_same_message_id_sends_once(self, sandbox):
        hook = MessagingHook("email")
        first = hook.send(to="a@example.com", body="b", message_id="msg_2", subject="s")
        assert hook.send(to="a@example.com", body="b", message_id="msg_2", subject="s") == first
        assert len(sandbox.effects(system="email")) == 1

    def test_whatsapp_default_template(self, sandbox):
        MessagingHook("whatsapp").send(to="+15550001", body="b", message_id="msg_3")
        assert sandbox.effects(system="whatsapp")[0]["payload"]["template"] == "generic"

    def test_unknown_channel(self):
        with pytest.raises(ValueError, match="unknown channel"):
            MessagingHook("pigeon")


# ---------------------------------------------------------------------------------------------- docstore
class TestDocstoreHook:
    def test_put_is_content_addressed(self, sandbox):
        hook = DocstoreHook()
        data = uuid.uuid4().bytes * 10
        sha = hashlib.sha256(data).hexdigest()
        assert hook.put_object(sha, data)["created"] is True
        assert hook.put_object(sha, data)["created"] is False
        assert len(sandbox.effects(system="docstore", action="put_object")) == 1
        assert hook.object_uri(sha) == f"{sandbox.url}/docstore/v1/objects/{sha}"

    def test_put_refuses_wrong_bytes(self, sandbox):
        with pytest.raises(ProviderError) as err:
            DocstoreHook().put_object("0" * 64, b"not those bytes")
        assert (err.value.status, err.value.retryable) == (400, False)

    def test_retract_is_idempotent(self, sandbox):
        hook = DocstoreHook()
        data = b"retract me " + uuid.uuid4().bytes
        sha = hashlib.sha256(data).hexdigest()
        hook.put_object(sha, data)
        assert hook.retract(sha, reason="rejected", idempotency_key="r-1")["status"] == "retracted"
        assert hook.retract(sha, reason="rejected", idempotency_key="r-1")["status"] == "retracted"
        assert hook.retract(sha, reason="rejected", idempotency_key="r-2")["error"] == "already_retracted"
        assert len(sandbox.effects(system="docstore", action="retract_object")) == 1

    def test_archive_then_retract(self, sandbox):
        hook = DocstoreHook()
        data = b"archive me " + uuid.uuid4().bytes
        sha = hashlib.sha256(data).hexdigest()
        hook.put_object(sha, data)
        assert hook.archive(sha, idempotency_key="a-1")["status"] == "archived"
        assert hook.retract(sha, reason="r", idempotency_key="r-1")["status"] == "retracted"

    def test_retract_missing_object(self, sandbox):
        with pytest.raises(ProviderError) as err:
            DocstoreHook().retract("e" * 64, reason="r", idempotency_key="r-1")
        assert err.value.status == 404

    def test_rooms(self, sandbox):
        hook = DocstoreHook()
        room_id = f"room-{uuid.uuid4().hex[:8]}"
        assert hook.create_room(room_id, "DD Acme", idempotency_key="room-1")["created"] is True
        assert hook.create_room(room_id, "DD Acme", idempotency_key="room-2")["created"] is False
        documents = hook.room_documents(room_id)
        assert isinstance(documents, list)
        for workstream in {d["workstream"] for d in documents}:
            assert all(d["workstream"] == workstream for d in hook.room_documents(room_id, workstream))
        assert hook.archive_room(room_id, reason="deal off", idempotency_key="arch-1")["status"] == "archived"
        assert (
            hook.archive_room(room_id, reason="deal off", idempotency_key="arch-2")["error"]
            == "already_archived"
        )
        assert len(sandbox.effects(system="docstore", action="archive_room")) == 1

    def test_archive_missing_room(self, sandbox):
        with pytest.raises(ProviderError) as err:
            DocstoreHook().archive_room("room-nope", reason="r", idempotency_key="arch-x")
        assert err.value.status == 404


# ---------------------------------------------------------------------------------------------- LLM, data
class TestLlmHook:
    def test_complete_is_deterministic(self, sandbox):
        hook = LlmHook()
        first = hook.complete("Summarise the partner", system_prompt="You are terse.", idempotency_key="l-1")
        assert isinstance(first, str) and first
        assert hook.complete("Summarise the partner", system_prompt="You are terse.") == first
        effects = sandbox.effects(system="llm", action="completion")
        assert effects[0]["payload"]["model"] == "ep-deterministic-1"  # from the connection's extra
        assert effects[0]["idempotency_key"] == "l-1"

    def test_default_model(self, sandbox, monkeypatch):
        monkeypatch.setenv(
            "AIRFLOW_CONN_EP_TEST_LLM",
            json.dumps({"conn_type": "http", "host": f"{sandbox.url}/llm/v1", "password": "t"}),
        )
        LlmHook("ep_test_llm").complete("hello")
        assert sandbox.effects(system="llm")[0]["payload"]["model"] == "gpt-4o-mini"


class TestDataHooks:
    def test_research(self, sandbox):
        company = ResearchHook().company("acme.example")
        assert company == ResearchHook().company("acme.example")
        assert sandbox.effects() == []  # reads are no side effects

    def test_financials(self, sandbox):
        body = FinancialsHook().company("acme")
        assert body == FinancialsHook().company("acme")
        assert isinstance(body, dict)
