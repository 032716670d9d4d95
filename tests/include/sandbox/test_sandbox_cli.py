from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.env import free_port

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    state_file = tmp_path / "state.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "EP_SANDBOX_WEBHOOK_BASE": "http://127.0.0.1:1/webhooks",
        "EP_SANDBOX_STATE_FILE": str(state_file),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "include.sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/_sandbox/health", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(process.stderr.read().decode() if process.stderr else "") from None
                time.sleep(0.1)
        yield url, state_file
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_python_m_include_sandbox_serves_with_env_config(sandbox_process: tuple[str, Path]) -> None:
    url, state_file = sandbox_process
    health = httpx.get(f"{url}/_sandbox/health").json()
    assert health == {"status": "ok", "effects": 0, "webhook_base": "http://127.0.0.1:1/webhooks"}

    sent = httpx.post(
        f"{url}/sms/v1/messages",
        json={"to": "+4915112345678", "body": "hi", "message_id": "m-cli"},
        headers={"Authorization": "Bearer t"},
    )
    assert sent.status_code == 201
    assert state_file.exists()
