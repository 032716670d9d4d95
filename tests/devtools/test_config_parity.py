"""One config source: the shipped ``config/airflow.cfg`` is what the image and `make run` both run with.

The Dockerfile copies the file and points ``AIRFLOW_CONFIG`` at it; ``devtools.env.airflow_env`` (make run,
make test, the live tests, the benchmarks) points ``AIRFLOW_CONFIG`` at the same file. Neither may set one of
its keys as an ``AIRFLOW__*`` variable: Airflow reads those before the file, so a copy would silently win.
Each environment is then asked, in a fresh process, what Airflow (and the Task SDK, which task processes and
the triggerer read) actually sees for every setting of the file, and which executor class it loads.
"""

from __future__ import annotations

import configparser
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import env as ep_env
from devtools.postgres import PostgresTarget
from devtools.stack import Setup, read_state, report_config_overrides

CONFIG = ep_env.REPO / "config" / "airflow.cfg"
DOCKERFILE = ep_env.REPO / "Dockerfile"

# The settings the README and the issue call the project's correctness settings: the file must keep them.
REQUIRED = {
    ("core", "executor"),
    ("core", "parallelism"),
    ("dag_processor", "refresh_interval"),
    ("scheduler", "scheduler_idle_sleep_time"),
    ("scheduler", "task_instance_heartbeat_timeout"),
    ("scheduler", "orphaned_tasks_check_interval"),
    ("execution_plane", "executor_shutdown_timeout"),
}

# Runs in the environment under test: what Airflow's own config (what `airflow config get-value` prints) and
# the Task SDK's config see, where each value came from, and the executor class Airflow would load.
PROBE = """
import json, sys
from airflow import configuration
from airflow.configuration import conf
from airflow.executors.executor_loader import ExecutorLoader
from airflow.sdk.configuration import conf as sdk_conf

sources = conf.as_dict(display_source=True, display_sensitive=True)
values = {}
for section, key in json.loads(sys.argv[1]):
    values[f"{section}.{key}"] = {
        "airflow": conf.get(section, key),
        "source": sources[section][key][1],
        "task_sdk": sdk_conf.get(section, key),
    }
executor, _ = ExecutorLoader.import_default_executor_cls()
print(json.dumps({
    "config_file": configuration.AIRFLOW_CONFIG,
    "values": values,
    "executor": f"{executor.__module__}.{executor.__qualname__}",
}))
"""


def shipped() -> dict[tuple[str, str], str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(CONFIG.read_text())
    return {(section, key): value for section in parser.sections() for key, value in parser.items(section)}


def env_name(section: str, key: str) -> str:
    return f"AIRFLOW__{section.upper()}__{key.upper()}"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; comments dropped, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instruction, _, args = (pending + line).partition(" ")
        out.append((instruction.upper(), args.strip()))
        pending = ""
    return out


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in dockerfile_instructions():
        if instruction != "ENV":
            continue
        tokens = shlex.split(args)
        if "=" not in tokens[0]:  # legacy form: ENV KEY value with spaces
            env[tokens[0]] = args.split(None, 1)[1]
            continue
        for token in tokens:
            key, _, value = token.partition("=")
            env[key] = value
    return env


def dockerfile_copies() -> dict[str, str]:
    """Image path -> repository path of every single-source COPY (no --from)."""
    copies: dict[str, str] = {}
    for instruction, args in dockerfile_instructions():
        tokens = shlex.split(args)
        if instruction != "COPY" or any(t.startswith("--from") for t in tokens):
            continue
        paths = [t for t in tokens if not t.startswith("--")]
        if len(paths) != 2:
            continue
        source, dest = paths
        if dest.endswith("/") and not source.endswith("/"):
            dest += Path(source).name
        copies[dest.rstrip("/")] = source.rstrip("/")
    return copies


def probe(env: dict[str, str]) -> dict[str, object]:
    keys = json.dumps(sorted(shipped()))
    result = subprocess.run(
        [sys.executable, "-c", PROBE, keys],
        env=env,
        cwd=ep_env.REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def assert_runs_the_shipped_config(seen: dict[str, object]) -> None:
    assert seen["config_file"] == str(CONFIG)
    values = seen["values"]
    assert isinstance(values, dict)
    for (section, key), value in shipped().items():
        assert values[f"{section}.{key}"] == {"airflow": value, "source": "airflow.cfg", "task_sdk": value}, (
            f"[{section}] {key}"
        )
    assert seen["executor"] == shipped()[("core", "executor")]


def clean_base(tmp_path: Path) -> dict[str, str]:
    """A shell with no Airflow settings of its own."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
    base["AIRFLOW_HOME"] = str(tmp_path / "airflow-home")
    return base


def test_the_shipped_file_holds_the_correctness_settings() -> None:
    missing = REQUIRED - set(shipped())
    assert not missing, f"config/airflow.cfg lost {sorted(missing)}"
    assert ep_env.AIRFLOW_CONFIG_FILE == CONFIG
    assert ep_env.shipped_settings() == {env_name(s, k): v for (s, k), v in shipped().items()}


def test_the_image_ships_the_file_and_points_airflow_at_it() -> None:
    env = dockerfile_env()
    config_path = env.get("AIRFLOW_CONFIG")
    assert config_path, "the Dockerfile does not set AIRFLOW_CONFIG"
    assert dockerfile_copies().get(config_path) == "config/airflow.cfg", (
        f"AIRFLOW_CONFIG={config_path} is not where the Dockerfile copies config/airflow.cfg"
    )
    overriding = sorted(name for name in env if name in ep_env.shipped_settings())
    assert not overriding, f"the Dockerfile overrides the shipped config with {overriding}"


def test_the_image_runs_the_shipped_config(tmp_path: Path) -> None:
    """The image's environment (its ENV lines; the copied file at its repository path) as Airflow sees it."""
    image_env = dockerfile_env()
    image_env["AIRFLOW_CONFIG"] = str(ep_env.REPO / dockerfile_copies()[image_env["AIRFLOW_CONFIG"]])
    # The image's PYTHONPATH (/opt/airflow:/opt/airflow/plugins) is the repository's root and plugins here.
    image_env["PYTHONPATH"] = f"{ep_env.REPO}{os.pathsep}{ep_env.REPO / 'plugins'}"
    assert_runs_the_shipped_config(probe({**clean_base(tmp_path), **image_env}))


def test_make_run_runs_the_shipped_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `devtools.stack.Stack` passes to every Airflow process it starts, from a shell with no
    Airflow settings."""
    state = read_state()
    pg_state: dict[str, str] = state["postgres"]  # type: ignore[assignment]
    pg = PostgresTarget(pg_state["kind"], pg_state["url"], pg_state["kind"])
    airflow_env = ep_env.airflow_env(pg, ep_env.Ports(), ep_env.Secrets.load_or_create())
    copied = sorted(name for name in airflow_env if name in ep_env.shipped_settings())
    assert not copied, f"devtools.env sets {copied} itself instead of reading config/airflow.cfg"

    for name in [k for k in os.environ if k.startswith(("AIRFLOW", "_AIRFLOW"))]:
        monkeypatch.delenv(name)
    setup = Setup(pg=pg, ports=ep_env.Ports(), secrets=ep_env.Secrets.load_or_create(), env=airflow_env)
    process_env = setup.process_env()
    assert_runs_the_shipped_config(probe(process_env))


def test_a_shell_override_of_a_shipped_setting_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every process devtools starts inherits the shell, and Airflow reads the variable before the file."""
    for name in ep_env.shipped_settings():
        monkeypatch.delenv(name, raising=False)
    report_config_overrides()
    assert capsys.readouterr().out == ""

    monkeypatch.setenv("AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME", "1")
    report_config_overrides()
    assert capsys.readouterr().out == (
        "[execution-plane] AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME=1 from the environment overrides "
        f"config/airflow.cfg ({shipped()[('scheduler', 'scheduler_idle_sleep_time')]})\n"
    )
