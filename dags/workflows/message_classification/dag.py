"""
### Message classification (short-lived local)

Inbound email/WhatsApp/SMS reply (English or Arabic) -> intent (interested, not now, question, objection,
unsubscribe, out of office, complaint, meeting request, referral), tags and confidence, stored once per
message. The step is the toolkit's classification service, the same implementation
`POST /services/message-classifications` answers with; a workflow that receives replies calls it in its own
step (`classify_message_task`) or triggers this DAG with the message as params.

Inventory: *Message classification*, Sync, <2 s.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, get_current_context, task

from execution_plane.services.dag import service_dag


@service_dag(
    doc_md=__doc__,
    params={
        "text": Param(type="string", minLength=1, maxLength=10_000, description="the message body"),
        "message_id": Param(
            None,
            type=["null", "string"],
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$",
            description="its id",
        ),
        "channel": Param("email", type="string", enum=["email", "whatsapp", "sms", "other"]),
    },
)
def message_classification() -> None:
    # ---------------------------------------------------------------- tasks
    @task
    def classify() -> dict[str, Any]:
        from execution_plane.services.classification import classify_message_task

        params = get_current_context()["params"]
        return classify_message_task({k: params[k] for k in ("text", "message_id", "channel")})

    # ---------------------------------------------------------------- calling tasks
    classify()


message_classification()
