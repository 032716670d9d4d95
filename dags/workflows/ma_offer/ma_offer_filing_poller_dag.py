"""
### Regulator filing status poll (every 10 minutes): the fallback for a lost regulator webhook

`ma_offer` waits for its filing's `filing.acknowledged` and then its decision (`filing.cleared`,
`filing.cleared_with_conditions`, `filing.refused`) in the `external_events` inbox, normally put there by the
regulator portal's webhook (`POST /webhooks/events/regulator`). A webhook can be lost; the regulator's
answer must not be.

Each run reads the filings still `submitted` or `acknowledged` (`ma_regulatory_filings`), asks the portal for
each (`RegulatorHook.get_filing`), and inserts what happened into the inbox: event id
`regulator:poll:<filing_id>:<status>`, source `regulator`, type `filing.<status>`, correlation key = the
filing's (`ma_offer:<request_id>:filing`), the payload the webhook would have carried, `ON CONFLICT DO
NOTHING`. The insert's NOTIFY wakes the waiting run exactly as the webhook would. A repeated poll inserts
nothing. Regulators answer in weeks: ten minutes late is on time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from execution_plane.defaults import default_args, tags_for


@dag(
    schedule=timedelta(minutes=10),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    default_args=default_args(retry_delay=timedelta(seconds=30)),
    tags=tags_for("ma_offer_filing_poller", "ma"),
    max_active_runs=1,
)
def ma_offer_filing_poller() -> None:
    @task
    def poll_filings() -> dict[str, object]:
        from workflows.ma_offer.poller import poll_filing_statuses

        return poll_filing_statuses()

    poll_filings()


ma_offer_filing_poller()
