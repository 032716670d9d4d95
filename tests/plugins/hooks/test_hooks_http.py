"""The provider hook base (hooks/http.py): connection -> client, credentials, Idempotency-Key, error
mapping. Against the real sandbox over HTTP; a closed loopback port for transport errors."""

from __future__ import annotations

import json
import time

import pytest

from devtools.env import free_port
from execution_plane.hooks.esign import EsignHook
from execution_plane.hooks.http import IDEMPOTENCY_HEADER, ProviderError, ProviderHook

ENVELOPE = {
    "document_sha256": "c" * 64,
    "document_uri": "docstore://objects/" + "c" * 64,
    "subject": "NDA",
    "signers": [{"email": "signer@example.com", "name": "Signer"}],
    "correlation_key": "hooks_test:1",
}


def closed_port() -> int:
    """A port nothing listens on (free a moment ago)."""
    return free_port()


def set_conn(monkeypatch, conn_id: str, **conn: object) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "http", **conn}))


@pytest.fixture
def hook(sandbox):
    esign = EsignHook()
    yield esign
    esign.close()


class TestConnection:
    def test_default_connection_and_bearer_token(self, hook, sandbox):
        client = hook.client()
        assert hook.conn_id == "esign_default"
        assert str(client.base_url).rstrip("/") == f"{sandbox.url}/esign/v1"
        assert client.headers["Authorization"] == "Bearer local-esign-token"
        assert hook.client() is client  # one client per hook

    def test_host_without_scheme(self, monkeypatch):
        set_conn(monkeypatch, "ep_test_bare", host="api.example.com", schema="http", port=8081)
        assert str(ProviderHook("ep_test_bare").client().base_url) == "http://api.example.com:8081"
        set_conn(monkeypatch, "ep_test_https", host="api.example.com")
        assert str(ProviderHook("ep_test_https").client().base_url) == "https://api.example.com"

    def test_no_password_sends_no_credentials(self, sandbox, monkeypatch):
        set_conn(monkeypatch, "ep_test_anon", host=f"{sandbox.url}/esign/v1")
        hook = EsignHook("ep_test_anon")
        assert "Authorization" not in hook.client().headers
        with pytest.raises(ProviderError) as err:
            hook.create_envelope(**ENVELOPE, idempotency_key="k-anon")
        assert err.value.status == 401
        assert not err.value.retryable
        assert sandbox.effects() == []

    def test_close_drops_the_client(self, hook):
        client = hook.client()
        hook.close()
        assert client.is_closed
        assert hook.client() is not client


class TestIdempotencyKey:
    def test_header_sent_and_replayed(self, hook, sandbox, caplog):
        first = hook.create_envelope(**ENVELOPE, idempotency_key="k-1")
        with caplog.at_level("INFO", logger="execution_plane.hooks.http"):
            second = hook.create_envelope(**ENVELOPE, idempotency_key="k-1")
        assert first == second
        [effect] = sandbox.effects(system="esign", action="create_envelope")
        assert effect["idempotency_key"] == "k-1"
        assert "replayed its stored answer for key k-1" in caplog.text

    def test_no_key_no_header(self, hook, sandbox):
        resp = hook.request("GET", "/envelopes/env_missing", accept=(404,))
        assert IDEMPOTENCY_HEADER not in resp.request.headers
        assert resp.request.headers["Authorization"] == "Bearer local-esign-token"

    def test_other_key_is_another_effect(self, hook, sandbox):
        hook.create_envelope(**ENVELOPE, idempotency_key="k-1")
        hook.create_envelope(**ENVELOPE, idempotency_key="k-2")
        assert len(sandbox.effects(system="esign", action="create_envelope")) == 2

    def test_same_key_other_request_is_refused(self, hook):
        hook.create_envelope(**ENVELOPE, idempotency_key="k-1")
        with pytest.raises(ProviderError) as err:
            hook.create_envelope(**{**ENVELOPE, "subject": "Other"}, idempotency_key="k-1")
        assert err.value.status == 422
        assert not err.value.retryable


class TestErrorMapping:
    @pytest.mark.parametrize("status", [500, 502, 503, 504])
    def test_5xx_is_retryable(self, hook, sandbox, status):
        sandbox.post("/_sandbox/faults", {"system": "esign", "action": "create_envelope", "status": status})
        with pytest.raises(ProviderError) as err:
            hook.create_envelope(**ENVELOPE, idempotency_key="k-5xx")
        assert (err.value.status, err.value.retryable, err.value.system) == (status, True, "esign")
        assert "injected_fault" in err.value.body
        assert f"HTTP {status}" in str(err.value)
        # The fault was used up: the same call now succeeds, once.
        hook.create_envelope(**ENVELOPE, idempotency_key="k-5xx")
        assert len(sandbox.effects(system="esign")) == 1

    @pytest.mark.parametrize("status", [408, 429])
    def test_throttling_and_timeouts_are_retryable(self, hook, sandbox, status):
        sandbox.post("/_sandbox/faults", {"system": "esign", "action": "get_envelope", "status": status})
        with pytest.raises(ProviderError) as err:
            hook.get_envelope("env_x")
        assert err.value.retryable

    @pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
    def test_4xx_is_not_retryable(self, hook, sandbox, status):
        sandbox.post("/_sandbox/faults", {"system": "esign", "action": "get_envelope", "status": status})
        with pytest.raises(ProviderError) as err:
            hook.get_envelope("env_x")
        assert (err.value.status, err.value.retryable) == (status, False)

    def test_real_404(self, hook):
        with pytest.raises(ProviderError) as err:
            hook.get_envelope("env_does_not_exist")
        assert (err.value.status, err.value.retryable) == (404, False)
        assert "envelope_not_found" in err.value.body

    def test_accepted_status_is_returned(self, hook):
        resp = hook.request("GET", "/envelopes/env_nope", accept=(404,))
        assert resp.status_code == 404

    def test_transport_error_is_retryable(self, monkeypatch):
        set_conn(monkeypatch, "ep_test_down", host=f"http://127.0.0.1:{closed_port()}", password="t")
        hook = EsignHook("ep_test_down")
        with pytest.raises(ProviderError) as err:
            hook.create_envelope(**ENVELOPE, idempotency_key="k-down")
        assert (err.value.status, err.value.retryable) == (0, True)
        assert "ConnectError" in err.value.body

    def test_timeout_then_key_in_use_then_replay(self, sandbox):
        """A slow provider: the client gives up, the work goes on; the retry meets the running request
        (409 + Retry-After, retryable), and once it finished the retry replays it: one effect."""
        sandbox.post(
            "/_sandbox/faults",
            {"system": "esign", "action": "create_envelope", "mode": "slow", "delay_s": 1.5},
        )
        hook = EsignHook(timeout_s=0.3)
        with pytest.raises(ProviderError) as timed_out:
            hook.create_envelope(**ENVELOPE, idempotency_key="k-slow")
        assert (timed_out.value.status, timed_out.value.retryable) == (0, True)
        with pytest.raises(ProviderError) as in_use:
            hook.create_envelope(**ENVELOPE, idempotency_key="k-slow")
        assert in_use.value.status == 409
        assert "idempotency_key_in_use" in in_use.value.body
        assert in_use.value.retryable
        time.sleep(2)
        envelope = hook.create_envelope(**ENVELOPE, idempotency_key="k-slow")
        [effect] = sandbox.effects(system="esign", action="create_envelope")
        assert envelope["envelope_id"] == effect["resource_id"]


def test_a_refusal_is_recognised_by_its_status_and_error_code() -> None:
    taken = ProviderError("directory", 409, '{"error": "account_exists", "upns": ["a@x"]}', retryable=False)
    assert taken.refusal(409, "account_exists") == {"error": "account_exists", "upns": ["a@x"]}
    assert taken.refusal(409, "envelope_not_voidable") is None
    assert taken.refusal(422, "account_exists") is None
    for body in ("<html>busy</html>", "", '["account_exists"]'):
        assert ProviderError("directory", 409, body, retryable=False).refusal(409, "account_exists") is None
