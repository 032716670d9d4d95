"""`python -m devtools setup | run | stop-postgres | catalog | docs` (what the Makefile calls)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools import bundle
from devtools import env as ep_env
from devtools.postgres import EmbeddedPostgres, PostgresTarget, embedded_datadir
from devtools.stack import (
    Stack,
    check_ports_free,
    choose_postgres,
    log,
    project_dag_ids,
    release_postgres,
    setup,
    stop_postgres_command,
)
from devtools.supervisor import GiveUp, Supervisor

# `make run` commits dags/ into the local bundle repository when it changed, this often (the shipped
# [dag_processor] refresh_interval: the bundle fetches it no sooner anyway).
PUBLISH_EVERY_S = 15.0


def cmd_setup(_: argparse.Namespace) -> int:
    s = setup()
    log(f"setup done in {s.timings['setup_total']} s: {json.dumps(s.timings)}")
    for server in {id(t.embedded): t.embedded for t in (s.pg, s.knowledge) if t and t.embedded}.values():
        # Left running on purpose: the tests (and a later `make run`) use it.
        log(
            f"embedded PostgreSQL on 127.0.0.1:{server.port} keeps running; stop it with: "
            f"{stop_postgres_command(server)}"
        )
    return 0


def cmd_run(_: argparse.Namespace) -> int:
    started = time.monotonic()
    ports = ep_env.Ports.from_env()
    # Refuse before touching anything: a second `make run` must not disturb the first.
    check_ports_free(ports)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    # Ctrl-C (SIGINT), a service manager (SIGTERM) and a closed terminal (SIGHUP) all stop what started here.
    # SIGINT too, explicitly: a process started in the background by a shell without job control (`make run &`
    # in a script, CI) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt for it.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    pg = choose_postgres()
    stack: Stack | None = None
    knowledge_store: PostgresTarget | None = None
    try:
        s = setup(ports, pg)
        knowledge_store = s.knowledge
        stack = Stack(s)
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
        ops, analyst = ep_env.OPS_USER, ep_env.ANALYST_USER
        log(
            f"ops engineer (trigger, clear, mark): {ops} / {s.secrets.password(ops)}; "
            f"analyst (reads): {analyst} / {s.secrets.password(analyst)}"
        )
        log(f"process logs: {stack.log_dir}; a component that dies is restarted; Ctrl-C stops everything")
        running = stack

        def restart(name: str) -> None:
            if name == "sandbox":
                running.start_sandbox()
            else:
                running.start_component(name)

        supervisor = Supervisor(stack, restart=restart, log=log, components=("sandbox", *stack.components))
        versioned = ep_env.dag_bundle_mode() == "git"
        next_publish = time.monotonic() + PUBLISH_EVERY_S
        while True:
            try:
                supervisor.check()
            except GiveUp as exc:
                log(f"{exc} (see {stack.log_dir})")
                return 1
            if versioned and time.monotonic() >= next_publish:
                next_publish = time.monotonic() + PUBLISH_EVERY_S
                try:
                    published = bundle.publish()
                except RuntimeError as exc:  # a git error: the stack goes on with the version it has
                    log(f"dags/ not published: {exc}")
                    continue
                if published.changed:
                    log(
                        f"dags/ changed: DAG bundle version {published.commit[:12]} published (new runs take "
                        "it within the refresh interval; runs already started keep theirs)"
                    )
            time.sleep(1)
    except KeyboardInterrupt:
        log("stopping")
        return 0
    finally:
        if stack is not None:
            stack.stop()
        release_postgres(pg)
        if knowledge_store is not None and knowledge_store.embedded is not None and knowledge_store is not pg:
            release_postgres(knowledge_store)  # the embedded server of the knowledge store, when started here
        log("stopped")


def cmd_publish_dags(_: argparse.Namespace) -> int:
    if ep_env.dag_bundle_mode() != "git":
        log("EP_DAG_BUNDLE=local: the LocalDagBundle reads dags/ itself, nothing to publish")
        return 0
    published = bundle.publish()
    state = "published" if published.changed else "unchanged"
    log(f"DAG bundle version {published.commit[:12]} {state} in {ep_env.dag_bundle_repo()}")
    return 0


def cmd_stop_postgres(args: argparse.Namespace) -> int:
    server = EmbeddedPostgres.at(Path(args.datadir))
    if not (server.datadir / "postmaster.pid").exists():
        log(f"no embedded PostgreSQL runs from {server.datadir}")
        return 0
    if not server.is_embedded():
        log(f"{server.datadir} is not a data directory of the embedded PostgreSQL: left alone")
        return 1
    where = f"embedded PostgreSQL on 127.0.0.1:{server.port}"
    if not server.stop():
        log(f"{where} did not stop (see {server.datadir / 'server.log'})")
        return 1
    log(f"{where} stopped")
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    env = {**os.environ, "PYTHONPATH": f"{ep_env.REPO}{os.pathsep}{ep_env.REPO / 'plugins'}"}
    return subprocess.call([sys.executable, "-m", "execution_plane.catalog", *args.rest], env=env)


def cmd_docs(_: argparse.Namespace) -> int:
    from devtools import compensations

    log(f"written: {compensations.write().relative_to(ep_env.REPO)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="Postgres, databases, migrations, settings; no servers").set_defaults(
        func=cmd_setup
    )
    sub.add_parser("run", help="setup, then start the sandbox and Airflow until Ctrl-C").set_defaults(
        func=cmd_run
    )
    sub.add_parser(
        "publish-dags", help="commit dags/ into the local DAG bundle repository (a new bundle version)"
    ).set_defaults(func=cmd_publish_dags)
    stop_pg = sub.add_parser("stop-postgres", help="stop the embedded PostgreSQL (never another server)")
    stop_pg.add_argument(
        "--datadir",
        default=str(embedded_datadir(ep_env.LOCAL)),
        help="its data directory (default: EP_EMBEDDED_PG_DIR or .local/pgdata)",
    )
    stop_pg.set_defaults(func=cmd_stop_postgres)
    cat = sub.add_parser("catalog", help="print the workflow inventory")
    cat.add_argument("rest", nargs=argparse.REMAINDER)
    cat.set_defaults(func=cmd_catalog)
    sub.add_parser("docs", help="write the generated docs (docs/compensations.md)").set_defaults(
        func=cmd_docs
    )
    args = parser.parse_args()
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
