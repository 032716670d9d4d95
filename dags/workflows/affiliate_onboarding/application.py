"""The application: checked (bad input is refused naming the field, before anything is recorded), then
registered as a workflow and recorded in ``affiliate_applications``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, step
from execution_plane.saga.compensations import compensation
from workflows.affiliate_onboarding.common import application_of

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga


@step
def check_application(run: Run) -> None:
    """Refuse what the params' schema cannot say (a website that is no web address, an email without a real
    domain, thresholds the wrong way round). A bad application will not get better: no retry."""
    from airflow.sdk.exceptions import AirflowFailException

    from workflows.affiliate_onboarding.domain import BadApplication

    try:
        application_of(run)
    except BadApplication as exc:
        raise AirflowFailException(f"bad application: {exc}") from None


@step
def receive_application(run: Run) -> dict[str, Any]:
    """Register the workflow and record the application (its undo closes the record)."""
    from execution_plane.saga.compensations import Compensation

    application = application_of(run)
    with run.saga as saga:
        saga.register()

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "INSERT INTO affiliate_applications (workflow_id, application_id, affiliate_id,"
                " applicant_name, email, company, website_domain, country, application, status)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, 'received')"
                " ON CONFLICT (workflow_id) DO NOTHING",
                (
                    saga.workflow_id,
                    application.application_id,
                    application.affiliate_id,
                    application.applicant_name,
                    application.email,
                    application.company or None,
                    application.website_domain,
                    application.country or None,
                    application.model_dump_json(),
                ),
            )
            return {"affiliate_id": application.affiliate_id, "email": application.email}

        return saga.db_write(
            "application_received",
            write,
            request={"application": application.model_dump(mode="json")},
            compensation=Compensation("affiliate_onboarding.close_record", {}),
        )


@compensation("affiliate_onboarding.close_record")
def close_record(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """The last undo: the application record says how it ended. Provisioned, then taken back:
    ``deprovisioned``; never provisioned: its bad ending (``rejected``, ``expired``), else ``failed``."""
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE affiliate_applications SET status = CASE WHEN account_id IS NOT NULL THEN 'deprovisioned'"
            " WHEN status IN ('rejected', 'expired') THEN status ELSE 'failed' END,"
            " reason = coalesce(reason, %s), updated_at = now() WHERE workflow_id = %s RETURNING status",
            (reason, saga.workflow_id),
        )
        row = cur.fetchone()
    return {"closed": saga.workflow_id, "status": row[0] if row else None}
