"""Shared pieces of the bad-input and security tests: the refusal shape, write probes, hypothesis strategies.

The webhook fixtures themselves (app client, signing ``post``, ``tag``, inbox/run lookups) come from
``tests/plugins/webhooks/conftest.py`` (re-exported by ``tests/security/conftest.py``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from include.security.hmac_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

# Every property: bounded, no deadline (the DB round trips vary), fixtures reused across examples on purpose.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

POST_ROUTES = ("/crm/events", "/esign", "/events/partner")
"""One concrete path per POST route of the app (``/events/{source}`` with an allowed source)."""

ERROR_KEYS = {"error", "message", "field"}

DOCUMENTED_5XX = {"workflow_unavailable"}
"""5xx answers that are a documented state, not a failure: a startable workflow that is not deployed in the
test metadata DB (dd_room / signature_commitment until the dag-processor serialized them) answers 503."""


def assert_refusal_shape(response: Any) -> dict[str, Any]:
    """A non-2xx answer: JSON ``{"error", "message", "field"}`` (422 adds ``fields``), nothing else."""
    assert response.headers.get("content-type") == "application/json", (response.status_code, response.text)
    body = response.json()
    assert isinstance(body, dict), body
    assert ERROR_KEYS <= body.keys() <= ERROR_KEYS | {"fields"}, body
    assert isinstance(body["error"], str), body
    assert re.fullmatch(r"[a-z][a-z_]*", body["error"]), body
    assert isinstance(body["message"], str), body
    assert body["message"], body
    assert body["field"] is None or (isinstance(body["field"], str) and body["field"]), body
    if "fields" in body:
        assert response.status_code == 422, body
        assert body["fields"], body
        for item in body["fields"]:
            assert set(item) == {"field", "message"}, body
        assert body["field"] == body["fields"][0]["field"], body
    return body


def assert_no_server_error(response: Any) -> None:
    if response.status_code >= 500:
        body = response.json() if response.headers.get("content-type") == "application/json" else None
        error = body.get("error") if isinstance(body, dict) else None
        assert response.status_code == 503 and error in DOCUMENTED_5XX, (
            f"server error {response.status_code}: {response.text[:500]}"
        )


def signed(secret: str, raw: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, ts, raw)}


def route_secret(secrets: dict[str, str], path: str) -> str:
    """The secret of the route serving ``path`` (``secrets`` as from the webhook ``secrets`` fixture)."""
    return secrets["/events/partner" if path.startswith("/events/") else path]


# ----------------------------------------------------------------------------------------------- writes
@dataclass(frozen=True)
class Snapshot:
    events: int
    runs: int
    max_run_id: int
    db_time: Any


@dataclass
class WriteProbe:
    """What a request wrote: global row counts before/after, plus spies on the two write paths.

    Counts: every row of ``external_events`` and every DAG run started by the ingress
    (``triggering_user_name = 'webhook:crm'``). Spies: inbox inserts and start requests that returned a new
    row and ``trigger_dag`` calls that returned a run, seen in this process.

    The test databases are shared with whoever else runs tests at the same time: when a count moved
    although no spy fired, the new rows are listed and the check fails only on a row this request could
    have produced (its ``event_id``, or a payload equal to its body).
    """

    business_db: Any
    inserted: list[str] = field(default_factory=list)
    triggered: list[str] = field(default_factory=list)
    all_inserted: list[str] = field(default_factory=list)
    """Every inbox row this test's requests added (deleted by the fixture afterwards)."""

    def snapshot(self) -> Snapshot:
        from airflow.models import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import func, select

        with self.business_db.cursor() as cur:
            cur.execute("SELECT count(*), clock_timestamp() FROM external_events")
            events, db_time = cur.fetchone()
        with create_session() as session:
            runs, max_id = session.execute(
                select(func.count(), func.coalesce(func.max(DagRun.id), 0)).where(
                    DagRun.triggering_user_name == "webhook:crm"
                )
            ).one()
        return Snapshot(int(events), int(runs), int(max_id), db_time)

    def _attributable(self, before: Snapshot, raw: bytes) -> list[str]:
        """New rows since ``before`` that the request with body ``raw`` could have written."""
        from airflow.models import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import select

        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        event_id = body.get("event_id") if isinstance(body, dict) else None
        found: list[str] = []
        with self.business_db.cursor() as cur:
            cur.execute(
                "SELECT event_id, payload FROM external_events WHERE received_at >= %s", (before.db_time,)
            )
            for row_id, payload in cur.fetchall():
                mine = isinstance(event_id, str) and row_id.endswith(f":{event_id}")
                if mine or (isinstance(body, dict) and payload == body):
                    found.append(f"external_events {row_id}")
        with create_session() as session:
            for dag_id, run_id in session.execute(
                select(DagRun.dag_id, DagRun.run_id).where(
                    DagRun.triggering_user_name == "webhook:crm", DagRun.id > before.max_run_id
                )
            ):
                if run_id == f"crm__{event_id}":
                    found.append(f"dag_run {dag_id}/{run_id}")
        return found

    @contextmanager
    def watch(self, raw: bytes = b"") -> Iterator[Callable[..., None]]:
        """``with probe.watch(body) as check: response = ...; check(response)``.

        ``check(response, raw=...)`` gives the body when it is only known after sending.

        A refused answer (not 2xx) must leave both counts unchanged and no spy hit; an accepted one may add
        at most one inbox row and one run.
        """
        self.inserted.clear()
        self.triggered.clear()
        before = self.snapshot()

        def check(response: Any, raw: bytes = raw) -> None:
            if 200 <= response.status_code < 300:
                assert len(self.inserted) <= 1 and len(self.triggered) <= 1, (self.inserted, self.triggered)
                return
            assert self.inserted == [], f"refused ({response.status_code}) but stored {self.inserted}"
            assert self.triggered == [], f"refused ({response.status_code}) but started {self.triggered}"
            after = self.snapshot()
            if (after.events, after.runs) != (before.events, before.runs):
                found = self._attributable(before, raw)
                assert found == [], f"refused ({response.status_code}) but wrote {found}"

        yield check


def install_spies(probe: WriteProbe, monkeypatch: Any) -> None:
    import airflow.api.common.trigger_dag as trigger_module

    from execution_plane.webhooks import db

    real_insert = db.insert_external_event
    real_start_request = db.insert_start_request
    real_trigger = trigger_module.trigger_dag

    def insert_spy(event_id: str, *args: Any, **kwargs: Any) -> bool:
        inserted = real_insert(event_id, *args, **kwargs)
        if inserted:
            probe.inserted.append(event_id)
            probe.all_inserted.append(event_id)
        return inserted

    def start_request_spy(event_id: str, *args: Any, **kwargs: Any) -> str | None:
        earlier = real_start_request(event_id, *args, **kwargs)
        if earlier is None:
            probe.inserted.append(event_id)
            probe.all_inserted.append(event_id)
            # Stored for real (what could not be stored is what these tests look for), then withdrawn at
            # once: starting runs of the project's DAGs in the shared test databases is not their business.
            with probe.business_db.cursor() as cur:
                cur.execute("DELETE FROM run_starts WHERE event_id = %s", (event_id,))
        return earlier

    def trigger_spy(dag_id: str, *args: Any, **kwargs: Any) -> Any:
        run = real_trigger(dag_id, *args, **kwargs)
        if run is not None:
            probe.triggered.append(f"{dag_id}/{kwargs.get('run_id')}")
        return run

    monkeypatch.setattr(db, "insert_external_event", insert_spy)
    monkeypatch.setattr(db, "insert_start_request", start_request_spy)
    monkeypatch.setattr(trigger_module, "trigger_dag", trigger_spy)


# ------------------------------------------------------------------------------------------- strategies
# A third of the strings carry a lone surrogate: json.dumps writes it as a "\udXXX" escape, which
# json.loads (so the ingress) accepts and Postgres jsonb does not.
_lone_surrogate = st.characters(categories=["Cs"])
any_text = st.one_of(
    st.text(max_size=24),
    st.text(max_size=24),
    st.tuples(st.text(max_size=8), _lone_surrogate, st.text(max_size=8)).map("".join),
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text
)

json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)

json_objects = st.dictionaries(any_text, json_values, max_size=5)


def dumps(value: Any, *, ensure_ascii: bool = True) -> bytes:
    return json.dumps(value, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")


# ------------------------------------------------------------------------- values from a JSON schema
# Both the ingress params models (pydantic ``model_json_schema()``) and the DAGs' ``Param`` objects
# describe each run param with JSON Schema: the same generator derives good and bad values for both.
_ID_CANDIDATES = ("id-1", "Acme", "a", "ops@example.com")
_QUANTIFIER = re.compile(r"\{(\d+),(\d+)\}\$?$")


def _branch(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of ``anyOf: [X, null]`` (an optional param), else the schema itself."""
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return next(s for s in schema[key] if s.get("type") != "null")
    return schema


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if kind else set()


def good_value(schema: dict[str, Any]) -> Any:
    schema = _branch(schema)
    types = _types(schema)
    if "enum" in schema:
        return schema["enum"][0]
    if "string" in types:
        if schema.get("format") == "email":
            return "person@example.com"
        pattern = re.compile(schema.get("pattern", ""))
        for candidate in _ID_CANDIDATES:
            if pattern.search(candidate) and len(candidate) <= schema.get("maxLength", 10**6):
                return candidate
        raise AssertionError(f"no candidate value matches {schema}")
    if types & {"number", "integer"}:
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        return min(low, schema.get("maximum", low))
    if "object" in types:
        return {"k": 1}
    if "array" in types:
        return [good_value(schema.get("items", {"type": "string"}))] * max(1, schema.get("minItems", 1))
    if "boolean" in types:
        return True
    raise AssertionError(f"no good value for {schema}")


def bad_values(schema: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) pairs the schema refuses; strict enough that pydantic's lax mode refuses them too."""
    schema = _branch(schema)
    types = _types(schema)
    bad: list[tuple[str, Any]] = []
    if "string" in types:
        bad.append(("wrong type", 12345))
        pattern = re.compile(schema["pattern"]) if "pattern" in schema else None
        if schema.get("minLength", 0) >= 1 or (pattern and not pattern.search("")):
            bad.append(("empty", ""))
        if "maxLength" in schema:
            bad.append(("too long", "x" * (schema["maxLength"] + 1)))
        if pattern and not pattern.search("bad id/1"):
            bad.append(("space and slash", "bad id/1"))
        if pattern and (quantifier := _QUANTIFIER.search(pattern.pattern)):
            too_long = "a" * (int(quantifier.group(2)) + 1)
            if not pattern.search(too_long):
                bad.append(("longer than the pattern", too_long))
        if schema.get("format") == "email":
            bad.append(("not an email", "not-an-email"))
    if types & {"number", "integer"}:
        bad.append(("wrong type", "abc"))
        if "exclusiveMinimum" in schema:
            bad.append(("at the exclusive minimum", schema["exclusiveMinimum"]))
        if "minimum" in schema:
            bad.append(("below the minimum", schema["minimum"] - 1))
        if "maximum" in schema:
            bad.append(("above the maximum", schema["maximum"] + 1))
        if "integer" in types and "number" not in types:
            bad.append(("fraction", 1.5))
    if "object" in types:
        bad.append(("wrong type", "x"))
        if schema.get("minProperties", 0) >= 1:
            bad.append(("empty", {}))
    if "array" in types:
        bad.append(("wrong type", "x"))
        if schema.get("minItems", 0) >= 1:
            bad.append(("empty", []))
        if "maxItems" in schema:
            item = good_value(schema.get("items", {"type": "string"}))
            bad.append(("too many", [item] * (schema["maxItems"] + 1)))
    return bad


def edge_values(schema: dict[str, Any]) -> list[tuple[str, Any]]:
    """Values at the edge of what the schema accepts (longest string, every allowed id character)."""
    schema = _branch(schema)
    edges: list[tuple[str, Any]] = []
    if "string" in _types(schema) and "format" not in schema:
        pattern = schema.get("pattern", "")
        if quantifier := _QUANTIFIER.search(pattern):
            edges.append(("longest id", "a" * int(quantifier.group(2))))
            allowed = re.search(r"\[([^\]]*)\]", pattern)
            if allowed:
                chars = "".join(c for c in "._:-" if c in allowed.group(1))
                edges.append(("every punctuation the pattern allows", f"a{chars}b".replace("..", ".")))
        elif "maxLength" in schema:
            edges.append(("longest text", "x" * schema["maxLength"]))
    if _types(schema) & {"number", "integer"} and "maximum" in schema:
        edges.append(("the maximum", schema["maximum"]))
    return edges


def valid_payload(model: Any) -> dict[str, Any]:
    """A payload the params model accepts: a good value for each required field (checked by a test)."""
    schema = model.model_json_schema()
    return {name: good_value(schema["properties"][name]) for name in schema.get("required", [])}
