"""A real MLflow tracking server for the tests, and plain-HTTP helpers to fill it.

MLflow brings many pins of its own (pandas, pyarrow, SQLAlchemy, Flask…), so it lives in a virtualenv of its
own, never in .venv: `<repo>/.mlflow-venv` (or wherever PMBOT_MLFLOW_VENV says), created once under a file lock
so that the xdist workers do not race, and reused while it holds the pinned release. A venv cut short (a
crash, a timeout) has no ready mark and is built again.

One server serves a whole test run: the first worker that needs it starts it, the last one done stops it (a
use count in the run's shared temporary folder, under a lock). It is MLflow's own `mlflow server`:
- on SQLite in that folder, bound to 127.0.0.1 on a free port (MLflow 3 checks the Host header against
  `--allowed-hosts`, whose default admits localhost and 127.0.0.1 on any port: nothing to set);
- one worker (`--workers 1`), and its job runner off (MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false: pmbot uses no
  MLflow job, and the runner starts a dozen processes on a two-core machine), telemetry off;
- with MLflow's basic-auth app (`--app-name basic-auth`, the `auth` extra), so that a request without the
  right credentials gets the server's real 401. The admin account is set in the auth config file.

`python -m tests.mlflow_server` only creates the virtualenv (CI runs it while it does other work).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

# The extra `auth` brings Flask-WTF, which the basic-auth app needs. 3.17.2: the newest release whose
# mlflow-skinny the package index also has.
MLFLOW_REQUIREMENT = "mlflow[auth]==3.17.2"
ROOT = Path(__file__).resolve().parent.parent
VENV_ENV = "PMBOT_MLFLOW_VENV"
INSTALL_TIMEOUT = 1500  # seconds: about 850 MB of wheels on a fresh machine
START_TIMEOUT = 240  # seconds: MLflow imports a lot, twice (the CLI, then uvicorn's worker), and migrates
# Invented credentials for the throwaway server.
ADMIN_USER = "pmbot-test-admin"
ADMIN_PASSWORD = "test-only-password-7f3a"


def venv_dir() -> Path:
    return Path(os.environ.get(VENV_ENV) or ROOT / ".mlflow-venv")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created if need be), held across processes until the block ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_venv() -> Path:
    """The `mlflow` command of the test virtualenv, built first if it is missing or holds another release."""
    venv = venv_dir()
    ready = venv / ".pmbot-ready"
    with _locked(venv.with_name(venv.name + ".lock")):
        if ready.exists() and ready.read_text() == MLFLOW_REQUIREMENT:
            return venv / "bin" / "mlflow"
        started = time.monotonic()
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                               "--disable-pip-version-check", MLFLOW_REQUIREMENT], capture_output=True, text=True,
                              timeout=INSTALL_TIMEOUT)
        if done.returncode != 0:
            raise RuntimeError(f"pip could not install {MLFLOW_REQUIREMENT} into {venv}:\n{done.stderr[-3000:]}")
        ready.write_text(MLFLOW_REQUIREMENT)
        print(f"{venv}: {MLFLOW_REQUIREMENT} installed in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return venv / "bin" / "mlflow"


# --- the server ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MlflowServer:
    """A running tracking server and the admin account that may write to it."""

    url: str
    username: str = ADMIN_USER
    password: str = ADMIN_PASSWORD

    def api(self, method: str, path: str, *, body: dict | None = None, params: dict | None = None,
            auth: tuple[str, str] | None = None) -> requests.Response:
        """One REST call as any HTTP client makes it (admin credentials unless `auth` says otherwise)."""
        return requests.request(method, f"{self.url}/api/2.0/mlflow/{path}", json=body, params=params,
                                auth=auth or (self.username, self.password), timeout=30)

    def call(self, path: str, body: dict) -> dict[str, Any]:
        """A POST that must succeed; its JSON."""
        answer = self.api("POST", path, body=body)
        assert answer.status_code == 200, f"{path}: HTTP {answer.status_code} {answer.text[:300]}"
        return answer.json()

    def create_experiment(self, name: str) -> str:
        return str(self.call("experiments/create", {"name": name})["experiment_id"])

    def log_run(self, experiment_id: str, *, name: str, started_ms: int, metrics: dict[str, float | list[float]],
                params: dict[str, str] | None = None, tags: dict[str, str] | None = None,
                status: str = "FINISHED") -> str:
        """A run as a training or eval script logs it: created with its tags, params and metrics logged in one
        batch (a list is a metric's history, step by step: the last value is the latest), then ended."""
        run = self.call("runs/create", {"experiment_id": experiment_id, "run_name": name, "start_time": started_ms,
                                        "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]})
        run_id = run["run"]["info"]["run_id"]
        logged = []
        for key, values in metrics.items():
            for step, value in enumerate(values if isinstance(values, list) else [values]):
                logged.append({"key": key, "value": value, "timestamp": started_ms + 100 * step, "step": step})
        self.call("runs/log-batch", {"run_id": run_id, "metrics": logged,
                                     "params": [{"key": k, "value": v} for k, v in (params or {}).items()]})
        if status != "RUNNING":
            self.call("runs/update", {"run_id": run_id, "status": status, "end_time": started_ms + 60_000})
        return run_id


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _start(folder: Path) -> dict[str, Any]:
    """Start `mlflow server` in its own process group, wait until /health answers; its state for the others."""
    mlflow = ensure_venv()
    port = _free_port()
    (folder / "auth.ini").write_text("\n".join([
        "[mlflow]",
        "default_permission = READ",
        f"database_uri = sqlite:///{folder / 'auth.db'}",
        f"admin_username = {ADMIN_USER}",
        f"admin_password = {ADMIN_PASSWORD}",
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
        # Each request's password check is a PBKDF2 hash (a third of a second on a busy CPU): cached here.
        "auth_cache_ttl_seconds = 600",
        "",
    ]))
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(MLFLOW_AUTH_CONFIG_PATH=str(folder / "auth.ini"), MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_hex(16),
               MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false", MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    command = [str(mlflow), "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
               "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1", "--app-name", "basic-auth"]
    with open(folder / "server.log", "ab") as log:
        proc = subprocess.Popen(command, env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while not _healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop_group(proc.pid)
            tail = (folder / "server.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"mlflow server did not come up on {url} (exit {proc.poll()}):\n{tail}")
        time.sleep(0.2)
    return {"pid": proc.pid, "url": url, "users": 0}


def _stop_group(pid: int) -> None:
    """End the server we started: its process group (the `mlflow` CLI and the uvicorn worker it spawned)."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 3  # a throwaway server: a short grace, then SIGKILL
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)  # reap it when it is our child; harmless otherwise
        except ChildProcessError:
            pass
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@contextmanager
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """The run's server, started by the first worker that asks, stopped when the last one is done with it."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "mlflow-server"
    folder.mkdir(exist_ok=True)
    state_file, lock = folder / "state.json", folder / "state.lock"
    with _locked(lock):
        state = json.loads(state_file.read_text()) if state_file.exists() else None
        if state is None or not _healthy(state["url"]):
            state = _start(folder)
        state["users"] += 1
        state_file.write_text(json.dumps(state))
    try:
        yield MlflowServer(state["url"])
    finally:
        with _locked(lock):
            state = json.loads(state_file.read_text())
            state["users"] -= 1
            if state["users"] <= 0:
                _stop_group(state["pid"])
                state_file.unlink()
            else:
                state_file.write_text(json.dumps(state))


if __name__ == "__main__":
    started = time.monotonic()
    print(f"{ensure_venv()} ready ({time.monotonic() - started:.0f} s)")
