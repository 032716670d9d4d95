"""
### eSign status poll (every 3 minutes): the fallback for a lost signature webhook

`signature_commitment` waits for its envelope's `envelope.signed` / `declined` / `expired` event in the
`external_events` inbox, normally put there by the eSign webhook (`POST /webhooks/esign`). A webhook can be
lost (provider outage, network, a deploy at the wrong moment); the signature must not be.

Each run reads the signature requests still `sent` (`signature_requests`), asks the provider for each
envelope (`EsignHook.get_envelope`), and for a terminal status inserts the matching event into the inbox:
event id `esign:poll:<envelope_id>:<status>`, source `esign`, type `envelope.<status>`, correlation key =
the workflow id, `ON CONFLICT DO NOTHING`. The insert's NOTIFY wakes the waiting run exactly as the webhook
would. A repeated poll inserts nothing; a late webhook is one more row the run no longer needs. An
envelope the provider cannot answer is logged and the others are still polled (the task then fails, so
the problem shows).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from execution_plane.defaults import default_args, tags_for


@dag(
    schedule=timedelta(minutes=3),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    default_args=default_args(retry_delay=timedelta(seconds=15)),
    tags=tags_for("esign_status_poller", "signature"),
    max_active_runs=1,
)
def esign_status_poller() -> None:
    @task
    def poll_envelopes() -> dict[str, object]:
        from workflows.signature_commitment.poller import poll_envelope_statuses

        return poll_envelope_statuses()

    poll_envelopes()


esign_status_poller()
