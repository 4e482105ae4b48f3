"""Deployment mode: submit the run to a Flower SuperLink with ``flwr run`` and follow it.

The SuperLink starts the ServerApp (``federation/flower_app``) in a process of its own, which
reads and writes the run folder named in the run config: the SuperLink runs beside the
platform's GPU worker and shares its data volume (docs/federated.md). SuperNodes on other
machines train on their own ``data-path``; no image is uploaded. ``flwr`` reads the SuperLink's
address from a ``config.toml`` in the run folder's ``flwr-home``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from privface_core.errors import UserError

from .config import FederatedConfig
from .events import RESULT_FILE, EventTail

CONNECTION = "privface"
SUBMIT_TIMEOUT_SECONDS = 60.0  # an unreachable SuperLink is an error after this, never a hang
STATUS_POLL_SECONDS = 10.0


def flwr_bin(name: str = "flwr") -> str:
    """Flower's console scripts sit beside this interpreter (the SuperLink also needs them on PATH)."""
    return str(Path(sys.executable).with_name(name))


def flwr_home(config: FederatedConfig, run_dir: Path) -> Path:
    home = Path(run_dir) / "flwr-home"
    home.mkdir(parents=True, exist_ok=True)
    certificates = os.environ.get("FLOWER_ROOT_CERTIFICATES", "")
    security = f'root-certificates = "{certificates}"' if certificates else "insecure = true"
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n'
        f'address = "{config.superlink}"\n{security}\n', encoding="utf-8")
    return home


def _flwr(args: list[str], home: Path, timeout: float) -> dict[str, Any]:
    env = {**os.environ, "FLWR_HOME": str(home), "FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1"}
    try:
        proc = subprocess.run([flwr_bin(), *args, "--format", "json"], capture_output=True, text=True,
                              timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise UserError(f"the Flower SuperLink did not answer within {timeout:.0f} s") from None
    try:
        answer = json.loads(proc.stdout)
    except json.JSONDecodeError:
        answer = {}
    if proc.returncode != 0 or not answer.get("success", False):
        text = str(answer.get("error-message") or proc.stderr or proc.stdout or "no answer")
        lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("Using SuperLink")]
        raise UserError(f"Flower SuperLink ({args[0]}): {' '.join(lines)[:400] or 'no answer'}")
    return answer


def submit(config: FederatedConfig, run_dir: Path) -> str:
    """``flwr run``: the run id, or a one-line error (unreachable SuperLink, bad app)."""
    from .runner import APP_DIR

    home = flwr_home(config, run_dir)
    answer = _flwr(["run", str(APP_DIR), CONNECTION, "--run-config", f'run-dir="{Path(run_dir).resolve()}"'],
                   home, SUBMIT_TIMEOUT_SECONDS)
    run_id = str(answer["run-id"])
    (Path(run_dir) / "flower-run-id").write_text(run_id)
    return run_id


def run_status(config: FederatedConfig, run_dir: Path, run_id: str) -> dict[str, Any]:
    answer = _flwr(["list", CONNECTION, "--run-id", run_id], flwr_home(config, run_dir), SUBMIT_TIMEOUT_SECONDS)
    runs = answer.get("runs") or [{}]
    return runs[0]


def stop(config: FederatedConfig, run_dir: Path, run_id: str) -> None:
    try:
        _flwr(["stop", run_id, CONNECTION], flwr_home(config, run_dir), SUBMIT_TIMEOUT_SECONDS)
    except UserError:
        pass


def follow(config: FederatedConfig, run_dir: Path, on_event: Callable[[dict[str, Any]], None],
           should_cancel: Callable[[], bool] | None, poll_seconds: float) -> None:
    """Relay events until the ServerApp writes its result; notice a run the SuperLink ended."""
    from .events import request_cancel

    previous = Path(run_dir) / "flower-run-id"
    if previous.is_file():  # a retried job: the run its dead worker submitted must not go on beside this one
        stop(config, run_dir, previous.read_text().strip())
    run_id = submit(config, run_dir)
    tail = EventTail(run_dir, from_start=False)
    last_status, cancelled = 0.0, False
    try:
        while not (Path(run_dir) / RESULT_FILE).is_file():
            for event in tail.read():
                on_event(event)
            if not cancelled and should_cancel is not None and should_cancel():
                request_cancel(run_dir)
                cancelled = True
            if time.monotonic() - last_status > STATUS_POLL_SECONDS:
                last_status = time.monotonic()
                status = run_status(config, run_dir, run_id)
                if str(status.get("status", "")).startswith("finished") and not (Path(run_dir) / RESULT_FILE).exists():
                    time.sleep(1.0)
                    if not (Path(run_dir) / RESULT_FILE).exists():
                        raise UserError(f"the SuperLink ended run {run_id} ({status.get('status')}:"
                                        f" {status.get('status-details', '')}) before it finished")
            time.sleep(poll_seconds)
    except BaseException:
        if not (Path(run_dir) / RESULT_FILE).exists():
            stop(config, run_dir, run_id)
        raise
    for event in tail.read():
        on_event(event)


def connected_nodes(superlink: str, home: Path) -> list[dict[str, Any]]:
    """The SuperNodes the SuperLink knows (for the dashboard in deployment mode)."""
    config = FederatedConfig(superlink=superlink)
    answer = _flwr(["supernode", "list", CONNECTION], flwr_home(config, home), 20.0)
    return [{"node_id": str(n.get("node-id")), "status": n.get("status"), "online_at": n.get("online-at"),
             "owner": n.get("owner-name")} for n in answer.get("nodes") or []]
