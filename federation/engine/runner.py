"""Run one federated run in a child process and relay its events: what the CLI and the job call.

    result = run(config, on_event, should_cancel)

Simulation: ``python -m federation.engine.simulate RUN_DIR`` (Ray and every client on this
machine). Deployment (``config.superlink``): ``flwr run`` submits the small Flower app in
``federation/flower_app`` to the SuperLink, whose ServerApp process reads the run folder named
in the run config; SuperNodes elsewhere train on their own data. Either way the child writes
``events.jsonl`` and ``result.json`` in the run folder, and a cancel is a ``cancel`` file there
(the run stops after the current round, keeping the last global model).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from privface_core.errors import UserError
from training.engine import checkpoint
from training.engine.config import ConfigError

from .config import FederatedConfig
from .events import CANCEL_FILE, CONFIG_FILE, EVENTS_FILE, RESULT_FILE, EventTail, request_cancel, write_json
from .plan import PLAN_FILE, make_plan

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "federation" / "flower_app"
CANCEL_GRACE_SECONDS = 3600.0  # a cancelled run finishes its round; past this it is killed
LOG_FILE = "federated.log"


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])]),
        PYTHONUNBUFFERED="1",
        FLWR_TELEMETRY_ENABLED="0",  # no network here, and none wanted
        FLWR_DISABLE_UPDATE_CHECK="1",
        RAY_USAGE_STATS_ENABLED="0",
        RAY_DEDUP_LOGS="0",
        TF_CPP_MIN_LOG_LEVEL=env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        TF_FORCE_GPU_ALLOW_GROWTH="true",  # Ray actors ignore enable_tf_gpu_growth
    )
    return env


def prepare(config: FederatedConfig) -> Path:
    """The run folder with ``config.json``; refuses to overwrite a run unless resuming it."""
    config.validate()
    run_dir = Path(config.output_dir)
    has_checkpoint = checkpoint.path_in(run_dir).exists()
    if config.resume and not has_checkpoint:
        raise ConfigError("resume", f"found no checkpoint in {run_dir}")
    if not config.resume and has_checkpoint:
        raise ConfigError("output_dir", f"{run_dir} already holds a checkpoint: pass --resume, or choose another"
                                        " folder")
    if config.resume:
        _check_resumable(config, checkpoint.load(run_dir)[1]["config"])
    run_dir.mkdir(parents=True, exist_ok=True)
    stale = [CANCEL_FILE, RESULT_FILE] + ([] if config.resume else [PLAN_FILE, EVENTS_FILE])
    for name in stale:  # a fresh run in a folder that never got to a checkpoint starts clean
        (run_dir / name).unlink(missing_ok=True)
    write_json(run_dir / CONFIG_FILE, config.to_dict())
    if not config.superlink:  # partition now: an impossible split is a one-line error before any process starts
        make_plan(config, run_dir, config.seed if config.seed is not None else secrets.randbits(31))
    return run_dir


def _check_resumable(config: FederatedConfig, previous: dict[str, Any]) -> None:
    fixed = ("data_dir", "rec_file", "idx_file", "num_clients", "clients_per_round", "partition", "alpha", "head",
             "model", "head_type", "embedding_size", "image_size", "batch_size", "local_epochs", "dp_level", "use_dp",
             "l2_norm_clip", "delta", "accountant", "clipping", "holdout_fraction")
    for name in fixed:
        if previous.get(name) != getattr(config, name):
            raise ConfigError(name, f"differs from the checkpoint's ({previous.get(name)!r}): cannot resume")


def run(config: FederatedConfig, on_event: Callable[[dict[str, Any]], None],
        should_cancel: Callable[[], bool] | None = None, poll_seconds: float = 0.5) -> dict[str, Any]:
    """Run to the end and return ``result.json``; a failed run raises ``UserError`` with its reason."""
    run_dir = prepare(config)
    if config.superlink:
        from .deployment import follow

        follow(config, run_dir, on_event, should_cancel, poll_seconds)
        return read_result(run_dir, None)
    returncode = _simulate(run_dir, on_event, should_cancel, poll_seconds)
    return read_result(run_dir, returncode)


def _simulate(run_dir: Path, on_event, should_cancel, poll_seconds: float) -> int | None:
    tail = EventTail(run_dir)
    with (run_dir / LOG_FILE).open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "federation.engine.simulate", str(run_dir)], cwd=ROOT,
                                env=child_env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    cancelled_at: float | None = None
    try:
        while True:
            for event in tail.read():
                on_event(event)
            if cancelled_at is None and should_cancel is not None and should_cancel():
                request_cancel(run_dir)
                cancelled_at = time.monotonic()
            if cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE_SECONDS:
                _stop(proc)
            if proc.poll() is not None:
                for event in tail.read():
                    on_event(event)
                return proc.returncode
            time.sleep(poll_seconds)
    except BaseException:
        _stop(proc)
        raise


def read_result(run_dir: Path, returncode: int | None) -> dict[str, Any]:
    import json

    path = run_dir / RESULT_FILE
    if not path.is_file():
        raise UserError(f"the federated run ended without a result (exit code {returncode});"
                        f" its log is {run_dir / LOG_FILE}")
    result = json.loads(path.read_text())
    if result.get("status") != "completed":
        raise UserError(result.get("error") or "the federated run failed")
    return result


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
