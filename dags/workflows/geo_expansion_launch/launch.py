"""Full launch: the flag on for every user of the market, the launch recorded, then every user told."""

from __future__ import annotations

import logging
from typing import Any

from execution_plane.durable import Run, step
from workflows.geo_expansion_launch.common import plan_of

log = logging.getLogger(__name__)


@step(trigger_rule="none_failed_min_one_success")
def full_launch(run: Run) -> dict[str, Any]:
    """The flag at 100 % of the market (from whichever round the launch lead widened to full)."""
    from execution_plane.hooks.flags import FlagsHook
    from workflows.geo_expansion_launch.domain import FULL_SHARE

    plan = plan_of(run)
    flag_key = plan.flag_key(run.request_id)
    with run.saga as saga:
        with FlagsHook() as hook:
            saga.call(
                "flag.full",
                side_effect="flags.set_rollout",
                request={"flag_key": flag_key, "market": plan.market, "rollout_pct": FULL_SHARE},
                call=lambda key: hook.set_rollout(
                    flag_key, plan.market, enabled=True, rollout_pct=FULL_SHARE, idempotency_key=key
                ),
            )

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE geo_launches SET share_pct = %s, status = 'launched', stage = 'full_launch',"
                " launched_at = now(), updated_at = now() WHERE workflow_id = %s",
                (FULL_SHARE, saga.workflow_id),
            )
            return {"share_pct": FULL_SHARE}

        saga.db_write("launched", write, request={"flag_key": flag_key})
    log.info("%s is live for every user of %s", flag_key, plan.market)
    return {"market": plan.market, "share_pct": FULL_SHARE}


@step
def users_told(run: Run, launched: dict[str, Any]) -> dict[str, Any]:
    """Every user of the market told the service is live (a user at most once, whatever the retries)."""
    from execution_plane.hooks.notify import NotifyHook
    from workflows.geo_expansion_launch.domain import launch_announcement

    plan = plan_of(run)
    message = launch_announcement(plan)
    with run.saga as saga, NotifyHook() as hook:
        return saga.call(
            "users.launch_announcement",
            side_effect="notify.notify_user",
            request={"market": plan.market},
            call=lambda key: hook.notify(
                key,
                market=plan.market,
                title=message.subject,
                body=message.body,
                template="geo_launch_announcement",
                idempotency_key=key,
            ),
        )
