"""The run folder is the one channel between a federated run and whoever watches it.

The ServerApp runs in a child process (simulation) or in a process the SuperLink starts
(deployment), so it reports by appending JSON lines to ``events.jsonl`` and learns of a cancel
from a ``cancel`` file; the CLI and the job tail the one and write the other. Both modes and
both watchers use the same few lines of code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from training.engine.json_safe import json_safe

EVENTS_FILE = "events.jsonl"
CANCEL_FILE = "cancel"
CONFIG_FILE = "config.json"
RESULT_FILE = "result.json"


class EventLog:
    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / EVENTS_FILE

    def emit(self, kind: str, **data: Any) -> None:
        line = json.dumps(json_safe({"type": kind, "time": round(time.time(), 3), **data}), allow_nan=False)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()


class EventTail:
    """Reads the events appended since the last call (whole lines only)."""

    def __init__(self, run_dir: Path, from_start: bool = False) -> None:
        self.path = Path(run_dir) / EVENTS_FILE
        self.offset = 0 if from_start or not self.path.exists() else self.path.stat().st_size
        self._partial = b""

    def read(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        self.offset += len(chunk)
        data = self._partial + chunk
        *lines, self._partial = data.split(b"\n")
        for line in lines:
            if line.strip():
                yield json.loads(line)


def request_cancel(run_dir: Path) -> None:
    (Path(run_dir) / CANCEL_FILE).touch()


def cancel_requested(run_dir: Path) -> bool:
    return (Path(run_dir) / CANCEL_FILE).exists()


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(json_safe(data), indent=1, allow_nan=False), encoding="utf-8")
    tmp.replace(path)
