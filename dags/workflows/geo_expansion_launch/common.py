"""What every part of geo_expansion_launch shares: its names and the reading of its plan and its table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from execution_plane.durable import Run
    from execution_plane.saga.steps import Saga
    from workflows.geo_expansion_launch.domain import LaunchPlan

DAG_ID = "geo_expansion_launch"
CONTRACT_DAG_ID = "signature_commitment"
APPROVAL_TOKEN_CONN_ID = "approval_token"
#: Who decides how the rollout scales (an Airflow user; admin may answer too).
LAUNCH_LEAD = "launch_lead"
LAUNCH_LEAD_EMAIL = "launch_lead@execution-plane.example"
APPLICANT = "Execution Plane Ltd."
FILING_KIND = "market_entry"
#: How long a partner's approval token stays valid for the child's first check.
TOKEN_TTL_S = 7 * 24 * 3600
#: The regulator's decisions on a filing (``execution_plane.hooks.regulator``; not imported while parsing).
REGULATOR_DECISION_EVENTS = ("filing.cleared", "filing.cleared_with_conditions", "filing.refused")
#: The infrastructure provider's callbacks for a region (``execution_plane.hooks.infra``).
REGION_EVENTS = ("infra.region.ready", "infra.region.failed")
#: Evaluation rounds the graph holds (the canary, then one per widening or hold); the plan's steps fit in.
MAX_ROUNDS = 5
#: Local partners a launch may sign with (one child run each).
MAX_PARTNERS = 10
#: The cloud regions the platform runs in (the trigger form's choices; ``domain.REGION_COUNTRY`` says where
#: each keeps its data, and a test keeps the two equal).
REGIONS = (
    "af-south-1",
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-south-2",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
)
#: The launch's statuses that are endings (anything else is a launch still in progress).
ENDED_STATUSES = ("launched", "not_ready", "refused", "expired", "declined", "rolled_back", "failed")


def plan_of(run: Run) -> LaunchPlan:
    """The run's launch plan, validated (the params' schema already refused malformed input)."""
    from workflows.geo_expansion_launch.domain import LaunchPlan

    params = run.params
    return LaunchPlan.model_validate(
        {
            "market": params["market"],
            "market_name": params["market_name"],
            "region": params["region"],
            "currency": params["currency"],
            "partners": params["partners"],
            "rollout_steps_pct": params["rollout_steps_pct"],
        }
    )


def deadline(cur: Any, hours: float) -> str:
    """now + ``hours`` from the database clock, fixed once inside the step that records it (ISO)."""
    cur.execute("SELECT now() + make_interval(secs => %s)", (float(hours) * 3600,))
    return str(cur.fetchone()[0].isoformat())


def set_status(saga: Saga, status: str, stage: str, reason: str | None = None) -> None:
    """The launch record's status and stage (a bad ending writes its own before compensation starts)."""
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE geo_launches SET status = %s, stage = %s, reason = COALESCE(%s, reason),"
            " updated_at = now()"
            " WHERE workflow_id = %s",
            (status, stage, reason, saga.workflow_id),
        )


def open_window(run: Run, saga: Saga, round_no: int, share_pct: int) -> dict[str, Any]:
    """Record round ``round_no`` at ``share_pct`` with its metrics window: from now, for
    ``metrics_window_hours`` (fixed once: a retry replays the same window)."""

    def write(cur: Any) -> dict[str, Any]:
        cur.execute("SELECT now()")
        start = cur.fetchone()[0].isoformat()
        end = deadline(cur, run.params["metrics_window_hours"])
        cur.execute(
            "INSERT INTO geo_rollout_rounds (workflow_id, round, share_pct, window_start, window_end)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (workflow_id, round) DO NOTHING",
            (saga.workflow_id, round_no, share_pct, start, end),
        )
        cur.execute(
            "UPDATE geo_launches SET share_pct = %s, status = %s, stage = %s, updated_at = now()"
            " WHERE workflow_id = %s",
            (share_pct, "canary" if round_no == 1 else "rolling_out", f"round_{round_no}", saga.workflow_id),
        )
        return {"round": round_no, "share_pct": share_pct, "window_start": start, "window_end": end}

    return saga.db_write(f"round.r{round_no}", write, request={"round": round_no, "share_pct": share_pct})


def round_window(run: Run, round_no: int) -> dict[str, Any]:
    """Round ``round_no`` as the step that opened it recorded it: share and metrics window."""
    with run.saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT share_pct, window_start, window_end FROM geo_rollout_rounds WHERE workflow_id = %s"
            " AND round = %s",
            (run.workflow_id, round_no),
        )
        row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"{run.workflow_id}: round {round_no} was never opened")
    share, start, end = row
    return {
        "round": round_no,
        "share_pct": share,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
    }


def record_ending(run: Run, status: str, stage: str, reason: str) -> None:
    """The launch record's bad ending, written before the run ends badly (compensation then keeps it)."""
    set_status(run.saga, status, stage, reason)
