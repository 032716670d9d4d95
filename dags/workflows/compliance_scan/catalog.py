"""The control catalog: what each control asks of the system, and who owns it (told when it fails). Plain
data (standard library only): the DAG file offers the controls in its trigger form while it is parsed."""

from __future__ import annotations

from dataclasses import dataclass

OWNER_DOMAIN = "execution-plane.example"


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    owner: str


CONTROLS: tuple[Control, ...] = (
    Control(
        "compensation_registered",
        "Every side effect of a durable workflow has a registered undo, and was undone when it ended badly",
        f"platform@{OWNER_DOMAIN}",
    ),
    Control("audit_chain_intact", "The audit log's hash chain is intact", f"security@{OWNER_DOMAIN}"),
    Control(
        "approvals_by_assignee",
        "Every approval was decided by a user it was assigned to",
        f"compliance@{OWNER_DOMAIN}",
    ),
    Control(
        "messages_consent_quiet_hours",
        "No message went out without consent or inside quiet hours",
        f"marketing-ops@{OWNER_DOMAIN}",
    ),
    Control(
        "evidence_packs_match",
        "Every stored evidence pack rebuilds with the same hash",
        f"compliance@{OWNER_DOMAIN}",
    ),
    Control("no_secrets_in_logs_xcoms", "No secret in task logs or XComs", f"security@{OWNER_DOMAIN}"),
    Control(
        "retention_respected",
        "No data is kept longer than the retention policy allows",
        f"dpo@{OWNER_DOMAIN}",
    ),
)
CONTROL_IDS: tuple[str, ...] = tuple(c.id for c in CONTROLS)
BY_ID: dict[str, Control] = {c.id: c for c in CONTROLS}
