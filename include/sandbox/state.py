"""Everything the sandbox remembers: provider resources, the effect log, idempotent responses, faults,
webhook deliveries. One re-entrant lock guards it all; every change is written through to an optional JSON
file so a restarted sandbox still knows what it did before (like a real provider would)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

RESOURCE_KINDS = (
    "partners",
    "deals",
    "notes",
    "envelopes",
    "messages",
    "bookings",
    "objects",
    "rooms",
    "filings",
    "counsel_reviews",
    "advisor_reviews",
    "transfers",
    "consolidations",
    "mandates",
    "provisionings",
    "grants",
    "parent_changes",
    "assignments",
    "customer_merges",
    "contacts",
    "conversations",
    "leads",
    "rate_limits",
    "screenings",
    "sanctions_entries",
    "affiliate_accounts",
    "link_sets",
    "payout_profiles",
)

FaultMode = Literal["error", "slow", "drop"]


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class SandboxConfig:
    """Runtime knobs. Secrets and the webhook base come from the environment at startup."""

    webhook_base: str | None = None
    esign_secret: str = "sandbox-esign-secret"
    events_secret: str = "sandbox-events-secret"
    crm_secret: str = "sandbox-crm-secret"
    webhook_duplicates: int = 1
    webhook_delay_s: float = 0.0
    webhook_timeout_s: float = 5.0
    webhook_max_attempts: int = 3
    webhook_backoff_s: float = 0.5

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SandboxConfig:
        defaults = cls()
        return cls(
            webhook_base=environ.get("EP_SANDBOX_WEBHOOK_BASE") or None,
            esign_secret=environ.get("EP_SANDBOX_ESIGN_SECRET") or defaults.esign_secret,
            events_secret=environ.get("EP_SANDBOX_EVENTS_SECRET") or defaults.events_secret,
            crm_secret=environ.get("EP_SANDBOX_CRM_SECRET") or defaults.crm_secret,
        )

    def public(self) -> dict[str, Any]:
        """The config as shown by the control API: secrets are reported as set, never echoed."""
        shown = dataclasses.asdict(self)
        for name in ("esign_secret", "events_secret", "crm_secret"):
            shown[name] = "***" if shown[name] else ""
        return shown


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    media_type: str | None


@dataclass(frozen=True)
class IdempotencyOutcome:
    """``new``: caller executes and must then complete() or abandon(); ``replay`` carries the response."""

    kind: Literal["new", "replay", "conflict", "in_progress"]
    stored: StoredResponse | None = None


def _empty() -> dict[str, Any]:
    return {
        "resources": {kind: {} for kind in RESOURCE_KINDS},
        "effects": [],
        "idempotency": {},
        "faults": [],
        "deliveries": [],
    }


class SandboxState:
    def __init__(self, config: SandboxConfig | None = None, *, state_file: str | Path | None = None) -> None:
        self._lock = threading.RLock()
        self._config = config or SandboxConfig()
        self._state_file = Path(state_file) if state_file else None
        # Keys whose first request is still executing; never persisted: after a crash they are simply gone,
        # which is what a provider does with a request it never finished.
        self._in_flight: set[tuple[str, str]] = set()
        self._data = _empty()
        if self._state_file is not None and self._state_file.exists():
            loaded = json.loads(self._state_file.read_text())
            self._data.update(loaded)
            for kind in RESOURCE_KINDS:
                self._data["resources"].setdefault(kind, {})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxState:
        env = os.environ if environ is None else environ
        return cls(SandboxConfig.from_env(env), state_file=env.get("EP_SANDBOX_STATE_FILE") or None)

    # ---- config -----------------------------------------------------------------------------------------

    @property
    def config(self) -> SandboxConfig:
        with self._lock:
            return self._config

    def update_config(self, **changes: Any) -> SandboxConfig:
        with self._lock:
            self._config = dataclasses.replace(self._config, **changes)
            return self._config

    # ---- resources and effects ----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[dict[str, dict[str, Any]]]:
        """Yield the resource tables under the lock; persist on a clean exit.

        Handlers validate before they mutate, so an exception leaves nothing half-written to persist.
        """
        with self._lock:
            yield self._data["resources"]
            self._save()

    @contextmanager
    def view(self) -> Iterator[dict[str, dict[str, Any]]]:
        """Yield the resource tables under the lock for reading; callers must not mutate them."""
        with self._lock:
            yield self._data["resources"]

    def record_effect(
        self,
        system: str,
        action: str,
        *,
        idempotency_key: str | None,
        resource_id: str | None,
        payload: Any,
    ) -> dict[str, Any]:
        with self._lock:
            effect = {
                "seq": len(self._data["effects"]) + 1,
                "system": system,
                "action": action,
                "idempotency_key": idempotency_key,
                "resource_id": resource_id,
                "payload": payload,
                "at": utc_now_iso(),
            }
            self._data["effects"].append(effect)
            self._save()
            return effect

    def effects(
        self,
        *,
        system: str | None = None,
        action: str | None = None,
        resource_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> list[dict[str, Any]]:
        wanted = {
            "system": system,
            "action": action,
            "resource_id": resource_id,
            "idempotency_key": idempotency_key,
        }
        with self._lock:
            return [
                dict(effect)
                for effect in self._data["effects"]
                if all(value is None or effect[name] == value for name, value in wanted.items())
            ]

    def effects_summary(self) -> dict[str, dict[str, int]]:
        summary: dict[str, dict[str, int]] = {}
        with self._lock:
            for effect in self._data["effects"]:
                per_system = summary.setdefault(effect["system"], {})
                per_system[effect["action"]] = per_system.get(effect["action"], 0) + 1
        return summary

    def reset(self) -> None:
        """Forget everything except the config (which belongs to whoever started the sandbox)."""
        with self._lock:
            self._data = _empty()
            self._save()

    # ---- idempotency --------------------------------------------------------------------------------------

    def idempotency_begin(self, system: str, key: str, fingerprint: str) -> IdempotencyOutcome:
        with self._lock:
            record = self._data["idempotency"].get(_scoped(system, key))
            if record is not None:
                if record["fingerprint"] != fingerprint:
                    return IdempotencyOutcome("conflict")
                stored = StoredResponse(
                    status=record["status"],
                    body=base64.b64decode(record["body_b64"]),
                    media_type=record["media_type"],
                )
                return IdempotencyOutcome("replay", stored)
            if (system, key) in self._in_flight:
                return IdempotencyOutcome("in_progress")
            self._in_flight.add((system, key))
            return IdempotencyOutcome("new")

    def idempotency_complete(self, system: str, key: str, fingerprint: str, response: StoredResponse) -> None:
        with self._lock:
            self._in_flight.discard((system, key))
            self._data["idempotency"][_scoped(system, key)] = {
                "fingerprint": fingerprint,
                "status": response.status,
                "body_b64": base64.b64encode(response.body).decode(),
                "media_type": response.media_type,
                "at": utc_now_iso(),
            }
            self._save()

    def idempotency_abandon(self, system: str, key: str) -> None:
        with self._lock:
            self._in_flight.discard((system, key))

    # ---- faults -------------------------------------------------------------------------------------------

    def add_fault(
        self, *, system: str, action: str | None, mode: FaultMode, status: int, delay_s: float, count: int
    ) -> dict[str, Any]:
        fault = {
            "fault_id": f"flt_{uuid.uuid4().hex[:12]}",
            "system": system,
            "action": action,
            "mode": mode,
            "status": status,
            "delay_s": delay_s,
            "remaining": count,
        }
        with self._lock:
            self._data["faults"].append(fault)
            self._save()
        return dict(fault)

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(fault) for fault in self._data["faults"]]

    def clear_faults(self) -> None:
        with self._lock:
            self._data["faults"] = []
            self._save()

    def take_fault(self, system: str, action: str) -> dict[str, Any] | None:
        """Consume one use of the first fault matching this request, if any."""
        with self._lock:
            for fault in self._data["faults"]:
                if fault["system"] == system and fault["action"] in (None, action):
                    fault["remaining"] -= 1
                    if fault["remaining"] <= 0:
                        self._data["faults"].remove(fault)
                    self._save()
                    return dict(fault)
            return None

    # ---- webhook deliveries -------------------------------------------------------------------------------

    def record_delivery(self, attempt: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            record = {"seq": len(self._data["deliveries"]) + 1, **attempt, "at": utc_now_iso()}
            self._data["deliveries"].append(record)
            self._save()
            return record

    def deliveries(self, *, event_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(record)
                for record in self._data["deliveries"]
                if event_id is None or record["event_id"] == event_id
            ]

    # ---- persistence --------------------------------------------------------------------------------------

    def _save(self) -> None:
        if self._state_file is None:
            return
        # Write-then-rename so a crash mid-write never leaves a truncated file that a restart cannot load.
        tmp = self._state_file.with_name(f".{self._state_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self._data, separators=(",", ":")))
        os.replace(tmp, self._state_file)


def _scoped(system: str, key: str) -> str:
    return f"{system}\x1f{key}"


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def stable_id(prefix: str, *parts: object) -> str:
    """An id that is the same every time the same parts are given (webhook event ids, LLM completion ids)."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()
    return f"{prefix}_{digest[:24]}"
