"""DAG parse cost (figure 5 of issue 6): each DAG file of dags/ (devtools.dag_files: the toolkit's DAGs and
every workflow's dag.py) imported in a cold process, beside the cost of `import airflow.sdk` alone.

Every sample is a fresh `python -c` process with the stack's environment (AIRFLOW_HOME, PYTHONPATH). In the
same process the SDK is imported first and timed, then the DAG file is loaded as a module and timed: the
second figure is the file's own cost beyond the SDK (target < 50 ms). A separate process that imports only
the SDK is the baseline. Best of `reps` processes (the machine is shared), medians kept too; bytecode is
cached (under .local/) as in a deployment. A file over target is re-run with `-X importtime` to
name the modules that cost most.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.harness import bytecode_env, log, profiles_dir
from devtools import env as ep_env
from devtools.dag_files import dag_files

TARGET_MS = 50.0

_FLOOR_DAG = """
from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def floor_dag():
    @task
    def one() -> None:
        pass

    one()


floor_dag()
"""

_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
path = sys.argv[1]
if path != "-":
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_parse_probe", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_parse_probe"] = module
    spec.loader.exec_module(module)
t2 = time.perf_counter()
print("BENCH_PARSE " + json.dumps({"sdk_ms": (t1 - t0) * 1000, "file_ms": (t2 - t1) * 1000}))
"""


def _probe(path: str, env: dict[str, str], cwd: Path, extra: list[str] | None = None) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, *(extra or []), "-c", _PROBE, path],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_PARSE "):
            out: dict[str, float] = json.loads(line[len("BENCH_PARSE ") :])
            if extra:
                out["stderr"] = result.stderr  # type: ignore[assignment]
            return out
    raise RuntimeError(f"parse probe of {path} failed:\n{result.stderr[-2000:]}")


def _top_imports(importtime: str, top: int = 6) -> list[tuple[str, float]]:
    """Largest cumulative import times (ms) of top-level-ish modules imported by the DAG file."""
    rows = []
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:") :].split("|")
        try:
            cumulative = int(parts[1].strip()) / 1000
        except ValueError:
            continue
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip())) // 2
        if depth <= 1:
            rows.append((name.strip(), round(cumulative, 1)))
    return sorted(rows, key=lambda r: -r[1])[:top]


def _profile(path: Path, name: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """py-spy (1 kHz, non-blocking) on one cold parse. Inside the DAG file's module body: the imported
    modules' bodies and the file's own top-level calls (DAG construction), inclusive ms (1 sample = 1 ms)."""
    out = profiles_dir() / f"parse-{name}.txt"
    spy = ep_env.REPO / ".venv" / "bin" / "py-spy"
    argv = [
        str(spy),
        "record",
        "--nonblocking",
        "--rate",
        "1000",
        "--format",
        "raw",
        "--output",
        str(out),
        "--",
        sys.executable,
        "-c",
        _PROBE,
        str(path),
    ]
    subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=120)
    if not out.exists():
        return {}
    site = "site-packages/"
    modules: dict[str, int] = {}
    calls: dict[str, int] = {}
    total = 0
    for line in out.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        start = next((i for i, f in enumerate(frames) if f.startswith("<module> (") and path.name in f), None)
        if not count.isdigit() or start is None:
            continue
        n = int(count)
        total += n
        own = [f for f in frames[start + 1 :] if "<frozen" not in f]
        seen: set[str] = set()
        for f in own:
            func, _, where = f.partition(" (")
            where = where.rsplit(":", 1)[0].split(site)[-1].replace(str(ep_env.REPO) + "/", "")
            if func == "<module>" and where not in seen:
                seen.add(where)
                modules[where] = modules.get(where, 0) + n
        if own:
            func, _, where = own[0].partition(" (")
            key = f"{func} ({where.rsplit(':', 1)[0].split(site)[-1].replace(str(ep_env.REPO) + '/', '')})"
            calls[key] = calls.get(key, 0) + n

    def top(d: dict[str, int]) -> list[tuple[str, int]]:
        return sorted(d.items(), key=lambda kv: -kv[1])[:6]

    return {
        "module_body_ms": total,
        "imported_module_bodies_ms": top(modules),
        "top_level_calls_ms": top(calls),
    }


def run(dags_dir: Path, env: dict[str, str], cwd: Path, reps: int) -> dict[str, Any]:
    files = sorted(dag_files(dags_dir).items())
    if not files:
        raise RuntimeError(f"no DAG file under {dags_dir}: nothing to measure")
    # The DAG processor puts the bundle's folder on sys.path: a workflow's dag.py imports its own package.
    pythonpath = os.pathsep.join(p for p in (env.get("PYTHONPATH", ""), str(dags_dir)) if p)
    env = {**env, **bytecode_env(), "PYTHONPATH": pythonpath}
    for _, path in files:  # untimed: writes the bytecode cache a deployment would have
        _probe(str(path), env, cwd)
    sdk_alone = [_probe("-", env, cwd)["sdk_ms"] for _ in range(reps)]
    sdk_ms = min(sdk_alone)
    # A second floor: the smallest DAG a file here could be (@dag + one @task). `from airflow.sdk import dag,
    # task` loads the decorators and the standard provider lazily, which `import airflow.sdk` does not.
    floor_file = profiles_dir() / "floor_dag.py"
    floor_file.write_text(_FLOOR_DAG)
    _probe(str(floor_file), env, cwd)
    floor_ms = min(_probe(str(floor_file), env, cwd)["file_ms"] for _ in range(reps))
    rows = []
    for dag_id, path in files:
        samples = [_probe(str(path), env, cwd) for _ in range(reps)]
        # Best of the repetitions: the machine is shared, and the slower samples measure its other tenants.
        beyond = min(s["file_ms"] for s in samples)
        total = min(s["sdk_ms"] + s["file_ms"] for s in samples)
        row: dict[str, Any] = {
            "dag_id": dag_id,
            "file": str(path.relative_to(dags_dir)),
            "beyond_sdk_ms": round(beyond, 1),
            "total_ms": round(total, 1),
            "ratio_total_vs_sdk_alone": round(total / sdk_ms, 2),
            "beyond_floor_dag_ms": round(beyond - floor_ms, 1),
            "meets_target": beyond < TARGET_MS,
            "median_beyond_ms": round(statistics.median(s["file_ms"] for s in samples), 1),
            "samples_beyond_ms": [round(s["file_ms"], 1) for s in samples],
        }
        if beyond >= TARGET_MS:
            timed = _probe(str(path), env, cwd, ["-X", "importtime"])
            row["top_imports_ms"] = _top_imports(str(timed.get("stderr", "")))
            row["py_spy"] = _profile(path, dag_id, env, cwd)
        rows.append(row)
        log(f"parse {row['file']}: {beyond:.0f} ms beyond the SDK ({total:.0f} ms total)")
    return {
        "sdk_alone_ms": {
            "best": round(sdk_ms, 1),
            "median": round(statistics.median(sdk_alone), 1),
            "samples": [round(x, 1) for x in sdk_alone],
        },
        "floor_dag_beyond_sdk_ms": round(floor_ms, 1),
        "reps": reps,
        "target_ms": TARGET_MS,
        "files": rows,
    }
