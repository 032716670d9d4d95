"""`python -m devtools setup | run | catalog` (what the Makefile calls)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

from devtools import env as ep_env
from devtools.stack import Stack, check_ports_free, log, project_dag_ids, setup


def cmd_setup(_: argparse.Namespace) -> int:
    s = setup()
    log(f"setup done in {s.timings['setup_total']} s: {json.dumps(s.timings)}")
    return 0


def cmd_run(_: argparse.Namespace) -> int:
    started = time.monotonic()
    ports = ep_env.Ports.from_env()
    # Refuse before touching anything: a second `make run` must not disturb the first.
    check_ports_free(ports)
    s = setup(ports)
    stack = Stack(s)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start_sandbox()
        log(
            f"sandbox of outside systems: {stack.sandbox_url} (effects: {stack.sandbox_url}/_sandbox/effects)"
        )
        stack.start_airflow()
        stack.wait_healthy()
        dag_ids = project_dag_ids()
        stack.wait_dags_and_unpause(dag_ids)
        log(f"{len(dag_ids)} DAGs loaded and unpaused: {', '.join(dag_ids)}")
        log(f"ready in {time.monotonic() - started:.1f} s")
        log(f"Airflow UI: {stack.api_url}  login: {ep_env.ADMIN_USER} / {s.secrets.admin_password}")
        log(
            "approvers (answer on the Required Actions page): "
            + ", ".join(f"{user} / {s.secrets.password(user)}" for user in ep_env.APPROVERS)
        )
        log(f"process logs: {stack.log_dir}; Ctrl-C stops everything")
        while True:
            for name, proc in stack.procs.items():
                if proc.poll() is not None:
                    log(f"{name} exited with {proc.returncode}; stopping (see {stack.log_dir / name}.log)")
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        log("stopping")
        return 0
    finally:
        stack.stop()
        log("stopped")


def cmd_catalog(args: argparse.Namespace) -> int:
    env = {**os.environ, "PYTHONPATH": f"{ep_env.REPO}{os.pathsep}{ep_env.REPO / 'plugins'}"}
    return subprocess.call([sys.executable, "-m", "execution_plane.catalog", *args.rest], env=env)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="Postgres, databases, migrations, settings; no servers").set_defaults(
        func=cmd_setup
    )
    sub.add_parser("run", help="setup, then start the sandbox and Airflow until Ctrl-C").set_defaults(
        func=cmd_run
    )
    cat = sub.add_parser("catalog", help="print the workflow inventory")
    cat.add_argument("rest", nargs=argparse.REMAINDER)
    cat.set_defaults(func=cmd_catalog)
    args = parser.parse_args()
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
