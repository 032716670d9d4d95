"""`Run`: what a durable step receives, instead of Airflow's raw context.

    @step
    def send_terms(run: Run, profile: dict[str, Any], sheet: dict[str, Any], round_no: int) -> dict[str, Any]:
        run.saga.send_message(...)          # the ledger, opened on first use, closed when the step ends
        run.params["partner_id"]            # the run's validated params
        run.decision("legal_review_r1")     # a gate's decision, from the approval bridge

The step reads the workflow's state from the ledger and the business tables, never from XComs of tasks it
names by hand: a reader of a step sees its inputs in its signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from execution_plane.saga import keys

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga


class Run:
    """One durable workflow's run, seen from one of its steps."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        self.context = context
        self._saga: Saga | None = None

    # ------------------------------------------------------------------ identity
    @property
    def params(self) -> Mapping[str, Any]:
        params: Mapping[str, Any] = self.context["params"]
        return params

    @property
    def dag_id(self) -> str:
        return str(self.context["dag"].dag_id)

    @property
    def run_id(self) -> str:
        return str(self.context["run_id"])

    @property
    def request_id(self) -> str:
        return str(self.params[keys.REQUEST_ID_PARAM])

    @property
    def workflow_id(self) -> str:
        return keys.workflow_id(self.dag_id, self.request_id)

    def correlation_key(self, *parts: str | int) -> str:
        return keys.correlation_key(self.workflow_id, *parts)

    # ------------------------------------------------------------------ the ledger
    @property
    def saga(self) -> Saga:
        """The workflow's saga (registering it when a step records its first effect)."""
        if self._saga is None:
            self._saga = self.open_saga()
        return self._saga

    def open_saga(self, **kwargs: Any) -> Saga:
        """A saga of this run with other options (e.g. ``register=False`` for follow-ups of an ended
        workflow); the caller closes it."""
        # The ledger and its database driver load when a step runs, never when a DAG file is parsed.
        from execution_plane.saga.steps import Saga

        return Saga.from_context(self.context, **kwargs)

    def decision(self, stage: str) -> dict[str, Any] | None:
        """The recorded decision of the approval ``stage`` of this workflow (None while it is pending)."""
        return self.saga.approval_decision(keys.approval_request_id(self.workflow_id, stage))

    # ------------------------------------------------------------------ endings
    def complete(self) -> dict[str, str]:
        from execution_plane.saga.outcomes import complete

        return complete(self.context)

    def end_badly(self, status: str, reason: str) -> NoReturn:
        """Record the bad ending, start compensation, note the run and fail it (see saga.outcomes)."""
        from execution_plane.saga.outcomes import end_badly

        self.close()
        end_badly(self.context, status, reason)

    def start_compensation(self, status: str, reason: str, *, note_suffix: str | None = None) -> None:
        """Start compensation of a workflow whose bad ending is recorded, while the run goes on (e.g. to ask a
        person what next); the run is noted with the reason."""
        from execution_plane.saga.outcomes import start_compensation_now

        start_compensation_now(self.context, self.workflow_id, status, reason, note_suffix=note_suffix)

    def close(self) -> None:
        if self._saga is not None:
            self._saga.close()
            self._saga = None
