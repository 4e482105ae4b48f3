"""Deployment mode for real: a `flower-superlink` and three `flower-supernode` processes on
127.0.0.1, each SuperNode with its own folder of images, and a 2-round run submitted with
`flwr run` through the runner the job uses."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from federation.engine.runner import ROOT, run
from tests.federation.conftest import small_config
from tests.live import free_port, wait_for

pytestmark = pytest.mark.slow


def flower_env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(ROOT),
            "FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, env=flower_env(), stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, cwd=log.parent)


def listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def federation(webface_tiny, tmp_path_factory):
    """SuperLink + 3 SuperNodes; each node's data-path holds only its own identities."""
    root = tmp_path_factory.mktemp("deployment")
    extracted = root / "all"
    subprocess.run([sys.executable, "run.py", "extract", "--rec_file", str(webface_tiny / "train.rec"),
                    "--idx_file", str(webface_tiny / "train.idx"), "--output_dir", str(extracted)],
                   cwd=ROOT, check=True, capture_output=True)
    sites = {0: ["0", "1", "2", "3"], 1: ["4", "5", "6"], 2: ["7", "8", "9"]}
    for site, labels in sites.items():
        for label in labels:
            shutil.copytree(extracted / label, root / f"site{site}" / label)
    port = free_port()
    bins = Path(sys.executable).parent
    procs = [start([str(bins / "flower-superlink"), "--insecure", "--host", "127.0.0.1", "--port", str(port),
                    "--disable-runtime-dependency-installation"], root / "superlink.log")]
    try:
        wait_for(lambda: listening(port), 60, "the SuperLink")
        for site in sites:
            node_config = f'data-path="{root / f"site{site}"}" name="site-{site}" state-dir="{root / f"state{site}"}"'
            procs.append(start([str(bins / "flower-supernode"), "--insecure", "--superlink", f"127.0.0.1:{port}",
                                "--port", str(free_port()), "--node-config", node_config], root / f"node{site}.log"))
        time.sleep(3)
        yield f"127.0.0.1:{port}", root
    finally:
        for proc in reversed(procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.timeout(900)  # every message starts a ClientApp process on its node (TensorFlow loads 9 times)
def test_a_two_round_job_runs_through_real_supernodes(federation, webface_tiny, tmp_path, monkeypatch):
    superlink, root = federation
    monkeypatch.setenv("PATH", flower_env()["PATH"])
    config = small_config(webface_tiny, tmp_path / "run", rec_file=None, idx_file=None, superlink=superlink)
    events: list[dict] = []
    result = run(config, events.append)
    assert result["status"] == "completed" and result["rounds_completed"] == 2
    rounds = [e for e in events if e["type"] == "round"]
    assert [r["replied"] for r in rounds] == [3, 3]
    names = sorted(c["partition"] for c in rounds[-1]["clients"])
    assert names == ["site-0", "site-1", "site-2"]
    assert sorted(c["examples"] for c in rounds[-1]["clients"]) == [21, 21, 28]
    assert all(r["received"] == ["backbone"] for r in rounds)
    card = result["model_card"]
    assert card["federation"]["mode"] == "deployment" and "never uploaded" in card["data"]["location"]
    assert not list((tmp_path / "run").rglob("*.jpg"))  # no image reached the server's run folder
    assert (tmp_path / "run" / "export" / "backbone.keras").is_file()
    assert (root / "state0" / "state.npz").is_file()  # the private head stayed on the node


def test_it_lists_the_connected_supernodes(federation, tmp_path, monkeypatch):
    from federation.engine.deployment import connected_nodes

    monkeypatch.setenv("PATH", flower_env()["PATH"])
    nodes = connected_nodes(federation[0], tmp_path)
    assert len(nodes) == 3 and all(n["status"] == "online" for n in nodes)


def test_an_unreachable_superlink_is_a_one_line_error(webface_tiny, tmp_path):
    from privface_core.errors import UserError

    config = small_config(webface_tiny, tmp_path / "run", rec_file=None, idx_file=None,
                          superlink=f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(UserError, match="SuperLink") as err:
        run(config, lambda event: None)
    assert "\n" not in str(err.value) and time.monotonic() - started < 90
