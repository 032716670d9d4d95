"""The compat patches that live inside Airflow's scheduler, installed when the plugin is imported there.

Every Airflow job imports the plugins when it starts (``Job.__init__`` builds the listener manager, which
loads them), before the scheduler's first loop. The plugin calls :func:`install_if_scheduler` at import:
in the ``airflow scheduler`` command it installs ``parked_runs`` (when its option is on); anywhere else (the
API server, the triggerer, task processes, a scheduler built in a test process as the compat canaries build
Airflow's own) it does nothing.

Not a lifecycle listener: Airflow 3.3.2 refuses to load any DAG with an ``end_from_trigger=True`` task as
soon as a plugin registers a listener (``DagBag.bag_dag``: "Listeners are not supported with
end_from_trigger=True"), and the durable workflows' date waits end in the triggerer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

log = logging.getLogger(__name__)


def is_scheduler_command(argv: Sequence[str]) -> bool:
    """``airflow scheduler`` (or ``python -m airflow scheduler``)."""
    program = argv[0].replace("\\", "/") if argv else ""
    airflow_cli = program.rsplit("/", 1)[-1] == "airflow" or program.endswith("airflow/__main__.py")
    return airflow_cli and len(argv) >= 2 and argv[1] == "scheduler"


def install_if_scheduler(argv: Sequence[str]) -> bool:
    """Install the scheduler's patches in the scheduler command; returns whether anything was installed."""
    if not is_scheduler_command(argv):
        return False
    from execution_plane.compat import parked_runs

    if not parked_runs.install():
        return False
    log.info(
        "execution_plane.compat.parked_runs installed: the scheduler examines a parked run of %s only when "
        "something in it changed (%s)",
        ", ".join(parked_runs.settings()["tags"]),
        parked_runs.UPSTREAM_REPORT,
    )
    return True
