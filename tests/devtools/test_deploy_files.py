"""The production shape in the repository, checked without a container runtime or a cluster (issue 15).

- ``docker-compose.yaml``: parsed as Compose does (YAML anchors and merge keys, ``${VAR}`` interpolation
  from the example environment ``deploy/compose.env.example``), validated against the Compose
  Specification's JSON schema (the copy check-jsonschema ships), then checked for the shape the issue asks
  (API server, 2 schedulers, dag-processor, 2 triggerers, Celery workers, Redis, Postgres, the sandbox only
  in the ``dev`` profile) and against config/airflow.cfg: every Airflow service runs the image of the
  Dockerfile, whose AIRFLOW_CONFIG is the shipped file, and overrides none of its settings but the executor.
  ``docker compose config`` runs too where the Docker CLI has the Compose plugin (not on the development
  machines: the test says so and skips).
- ``deploy/helm/values.yaml``: its ``config`` carries every setting of config/airflow.cfg with the same value
  (except the executor and the sizing settings, named below), the chart reads that file (AIRFLOW_CONFIG),
  Airflow 3.3.2, replicas, and secrets only by reference. The chart's values schema is not published on a
  package registry, so it is not validated against it here (README, Production).
- Secrets: nothing secret in these files, the image or airflow_settings.yaml (local values only).
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from devtools import env as ep_env

REPO = ep_env.REPO
COMPOSE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / "deploy" / "compose.env.example"
HELM_VALUES = REPO / "deploy" / "helm" / "values.yaml"
DOCKERFILE = REPO / "Dockerfile"

AIRFLOW_VERSION = "3.3.2"
AIRFLOW_SERVICES = {
    "airflow-init": None,
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
# Settings of config/airflow.cfg a deployment may set otherwise, and why (README, Production).
EXECUTOR = ("core", "executor")  # Celery on several machines: the bounded LocalExecutor is one host's
SIZING = {("core", "parallelism"), ("dag_processor", "parsing_processes")}  # a bigger host or cluster
SECRET_WORDS = ("PASSWORD", "SECRET", "FERNET", "TOKEN", "_CONN_", "KEY")


def shipped() -> dict[tuple[str, str], str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string((REPO / "config" / "airflow.cfg").read_text())
    return {(section, key): value for section in parser.sections() for key, value in parser.items(section)}


def env_name(section: str, key: str) -> str:
    return f"AIRFLOW__{section.upper()}__{key.upper()}"


# ----------------------------------------------------------------------------------------------- compose
def example_env() -> dict[str, str]:
    """deploy/compose.env.example as Compose reads an env file (KEY=VALUE, single quotes kept literal)."""
    values: dict[str, str] = {}
    for raw in ENV_EXAMPLE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=VALUE: {raw!r}"
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        values[key] = value
    return values


_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: Any, env: dict[str, str], used: set[str]) -> Any:
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, used) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, used) for v in value]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        used.add(name)
        operator, argument = match.group(2), match.group(3)
        present = name in env and (env[name] != "" or operator in ("-", "?"))
        if present:
            return env[name]
        if operator and operator.endswith("?"):
            raise AssertionError(f"${{{name}}} is required: {argument}")
        return argument if operator else ""

    return _VAR.sub(sub, value)


def compose_raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # resolves anchors and `<<` merge keys
    return data


def compose_resolved(env: dict[str, str] | None = None) -> tuple[dict[str, Any], set[str]]:
    used: set[str] = set()
    resolved = interpolate(compose_raw(), example_env() if env is None else env, used)
    return resolved, used


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    return {str(k): str(v) for k, v in environment.items()}


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    from check_jsonschema.builtin_schemas import get_builtin_schema

    schema = get_builtin_schema("vendor.compose-spec")
    resolved, _ = compose_resolved()
    # After interpolation Compose casts numbers (replicas) from the strings interpolation produced.
    for service in resolved["services"].values():
        replicas = (service.get("deploy") or {}).get("replicas")
        if isinstance(replicas, str):
            service["deploy"]["replicas"] = int(replicas)
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(resolved), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:20])


def test_the_compose_schema_check_can_fail() -> None:
    """The check above refuses what Compose refuses (a mistyped key, a port as a mapping)."""
    from check_jsonschema.builtin_schemas import get_builtin_schema

    schema = get_builtin_schema("vendor.compose-spec")
    resolved, _ = compose_resolved()
    resolved["services"]["airflow-apiserver"]["comand"] = "api-server"
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert any("comand" in e.message for e in validator.iter_errors(resolved))


DEV_CONFIG = ("--profile", "dev", "config", "--quiet")


def test_docker_compose_config_where_the_cli_has_compose(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True) if docker else None
    if probe is None or probe.returncode != 0:
        pytest.skip("no `docker compose` (the Docker CLI here lacks the Compose plugin): schema check only")
    env_file = tmp_path / ".env"
    env_file.write_text(ENV_EXAMPLE.read_text())
    result = subprocess.run(
        [str(docker), "compose", "-f", str(COMPOSE), "--env-file", str(env_file), *DEV_CONFIG],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr


def test_compose_has_the_production_shape() -> None:
    services = compose_resolved()[0]["services"]
    assert set(services) == {*AIRFLOW_SERVICES, "postgres", "redis", "sandbox"}
    for name, command in AIRFLOW_SERVICES.items():
        service = services[name]
        assert service.get("build") == ".", f"{name} does not run the image of ./Dockerfile"
        assert service["image"] == services["airflow-apiserver"]["image"]
        assert "profiles" not in service, f"{name} must run without a profile"
        if command is not None:
            assert service["command"] == command, name
    replicas = {name: (s.get("deploy") or {}).get("replicas", 1) for name, s in services.items()}
    assert int(replicas["airflow-scheduler"]) == 2
    assert int(replicas["airflow-triggerer"]) == 2
    assert int(replicas["airflow-worker"]) >= 1
    assert int(replicas["airflow-dag-processor"]) == 1
    assert services["sandbox"]["profiles"] == ["dev"]
    assert all("profiles" not in services[name] for name in ("postgres", "redis"))
    # The stack waits for its database and broker, and for the migrations of this deploy.
    for name in AIRFLOW_SERVICES.keys() - {"airflow-init"}:
        assert services[name]["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}
    assert "airflow db migrate" in " ".join(services["airflow-init"]["command"])


def test_compose_runs_the_shipped_config_and_overrides_only_the_executor() -> None:
    services = compose_resolved()[0]["services"]
    settings = shipped()
    by_env = {env_name(section, key): (section, key) for section, key in settings}
    for name in AIRFLOW_SERVICES:
        environment = environment_of(services[name])
        assert "AIRFLOW_CONFIG" not in environment, f"{name} replaces the image's config/airflow.cfg"
        effective = dict(settings)
        for variable, value in environment.items():
            if variable in by_env:
                effective[by_env[variable]] = value
        changed = {k for k in settings if effective[k] != settings[k]}
        assert changed == {EXECUTOR}, f"{name} overrides {sorted(changed)}"
        assert effective[EXECUTOR] == "CeleryExecutor"
    # The image those services run reads config/airflow.cfg (tests/devtools/test_config_parity.py probes it).
    assert re.search(r"^ENV AIRFLOW_CONFIG=/opt/execution_plane/airflow.cfg$", DOCKERFILE.read_text(), re.M)


def test_the_image_carries_no_dags_and_pins_airflow() -> None:
    """The DAG code comes from the versioned bundle: a dags/ copy in the image would be code no run pins."""
    text = DOCKERFILE.read_text()
    copies = [shlex.split(line)[1:] for line in text.splitlines() if line.startswith("COPY")]
    sources = {token for copy in copies for token in copy if not token.startswith("--")}
    assert not any(source.rstrip("/") == "dags" for source in sources), "the image copies dags/"
    assert {"plugins/", "include/", "config/airflow.cfg"} <= sources
    assert re.search(rf"^FROM apache/airflow:{re.escape(AIRFLOW_VERSION)}-python3\.11$", text, re.M)
    assert f"apache-airflow=={AIRFLOW_VERSION}\n" in (REPO / "requirements.txt").read_text()


def test_compose_takes_every_secret_from_the_environment() -> None:
    raw_services = compose_raw()["services"]
    for name, service in raw_services.items():
        for variable, value in environment_of(service).items():
            if any(word in variable for word in SECRET_WORDS) or re.search(r"://[^/\s]*:[^@\s]*@", value):
                secret_parts = re.sub(r"\$\{[^}]+\}", "", value)
                assert "${" in value and not re.search(r":[^/@:]+@", secret_parts), (
                    f"{name}: {variable} holds a literal secret"
                )
    gitignore = (REPO / ".gitignore").read_text().splitlines()
    assert ".env" in gitignore
    assert not (REPO / ".env").exists() or ".env" in gitignore


def test_the_example_environment_names_everything_and_holds_no_secret() -> None:
    example = example_env()
    _, used = compose_resolved()
    assert used <= set(example), f"docker-compose.yaml needs {sorted(used - set(example))}"
    settings = yaml.safe_load((REPO / "airflow_settings.yaml").read_text())["airflow"]
    connections = {c["conn_id"] for c in settings["connections"]} | {"dags_git"}
    named = {k.removeprefix("AIRFLOW_CONN_").lower() for k in example if k.startswith("AIRFLOW_CONN_")}
    assert connections <= named, f"deploy/compose.env.example lacks connections {sorted(connections - named)}"
    for variable, value in example.items():
        if variable.startswith("AIRFLOW_CONN_"):
            conn = json.loads(value)
            for field in ("password", "login"):
                if field in conn and conn[field] != "airflow":
                    assert conn[field].startswith("<"), f"{variable}.{field} is not a placeholder"
        elif any(word in variable for word in ("PASSWORD", "SECRET", "FERNET")):
            assert value.startswith("<") and value.endswith(">"), f"{variable} is not a placeholder"
    # The connection of the DAG bundle is the one config/airflow.cfg names.
    bundles = json.loads(shipped()[("dag_processor", "dag_bundle_config_list")])
    assert f"AIRFLOW_CONN_{bundles[0]['kwargs']['git_conn_id'].upper()}" in example


def test_a_missing_secret_stops_compose() -> None:
    """``${VAR:?...}``: Compose refuses to start without the secret instead of starting without it."""
    env = {k: v for k, v in example_env().items() if k != "AIRFLOW__CORE__FERNET_KEY"}
    with pytest.raises(AssertionError, match="AIRFLOW__CORE__FERNET_KEY"):
        compose_resolved(env)


# ---------------------------------------------------------------------------------------------------- helm
def helm_values() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(HELM_VALUES.read_text())
    return data


def test_helm_values_carry_the_shipped_config() -> None:
    values = helm_values()
    config = values["config"]
    settings = shipped()
    for (section, key), value in settings.items():
        if (section, key) == EXECUTOR:
            assert key not in config.get(section, {}), "the chart sets the executor from `executor`"
            continue
        assert key in config.get(section, {}), f"deploy/helm/values.yaml lacks [{section}] {key}"
        if (section, key) not in SIZING:
            seen = str(config[section][key])
            assert seen == value, f"[{section}] {key}: {seen!r} here, {value!r} in config/airflow.cfg"
    extra = {(s, k) for s, keys in config.items() for k in keys} - set(settings)
    assert not extra, f"settings the project does not ship: {sorted(extra)}"
    assert values["executor"] == "CeleryExecutor"
    env = {item["name"]: item["value"] for item in values["env"]}
    # The chart mounts its airflow.cfg (from `config`) at <airflowHome>/airflow.cfg; the image points
    # AIRFLOW_CONFIG elsewhere, so the values point it back, or `config` would be ignored.
    assert env["AIRFLOW_CONFIG"] == "/opt/airflow/airflow.cfg"
    assert not set(env) & {env_name(s, k) for s, k in settings}, "env overrides a setting of `config`"


def test_helm_values_pin_airflow_and_the_production_shape() -> None:
    values = helm_values()
    assert values["airflowVersion"] == values["defaultAirflowTag"] == AIRFLOW_VERSION
    assert str(values["images"]["airflow"]["tag"]).startswith(AIRFLOW_VERSION)
    assert values["scheduler"]["replicas"] == 2
    assert values["triggerer"]["replicas"] == 2
    assert values["dagProcessor"]["enabled"] is True
    assert values["workers"]["replicas"] >= 1
    assert values["apiServer"]["replicas"] >= 1
    assert values["redis"]["enabled"] is True
    assert values["dags"]["gitSync"]["enabled"] is False, "DAG code comes from the versioned bundle"
    assert values["dags"]["persistence"]["enabled"] is False


def test_helm_values_hold_no_secret() -> None:
    values = helm_values()
    for key in ("fernetKey", "jwtSecret", "apiSecretKey", "webserverSecretKey"):
        assert not values.get(key), f"{key} is set in the values file"
    assert values["fernetKeySecretName"] and values["jwtSecretName"]
    assert values["data"]["metadataSecretName"] and values["data"]["resultBackendSecretName"]
    assert "metadataConnection" not in values["data"]
    assert "secretRef" in values["extraEnvFrom"]
    text = HELM_VALUES.read_text()
    assert not re.search(r"://[^/\s]*:[^@\s<]+@", text), "a URL with a password in the values file"


# ------------------------------------------------------------------------------------------------ settings
def test_airflow_settings_yaml_holds_local_values_only() -> None:
    """airflow_settings.yaml is loaded by devtools only: its hosts are the local ones, its secrets generated
    (``${EP_...}``) or local placeholders, its variables policies with no credential in them; production
    sets the same ids from env vars or a secrets backend."""
    settings = yaml.safe_load((REPO / "airflow_settings.yaml").read_text())["airflow"]
    for conn in settings["connections"]:
        host = conn.get("conn_host")
        if host is not None:
            assert str(host).startswith("${EP_"), f"{conn['conn_id']}: host {host!r} is not a local value"
        password = conn.get("conn_password")
        if password is not None:
            assert str(password).startswith(("${EP_", "local-")), f"{conn['conn_id']}: a literal password"
    # Variables are policies (compliance_policy, approval_reminders): settings, never credentials.
    from include.security.secrets_scan import pattern_hits

    for variable in settings.get("variables") or []:
        value = str(variable["variable_value"])
        assert not pattern_hits(value), f"{variable['variable_name']}: a credential-shaped value"
        assert "${" not in value, f"{variable['variable_name']}: a value taken from the environment"
