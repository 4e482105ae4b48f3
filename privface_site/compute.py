"""CPU-bound work of the web tier runs here, in a few worker processes, never in the
process that serves requests: a pure-Python computation in a request thread holds the
interpreter lock and every other request of that process waits behind it.

``run(fn, *args, timeout=s)`` calls ``fn`` (a module-level function: it is pickled by name)
in one of COMPUTE_PROCESSES processes and returns its result. Past ``timeout`` seconds the
process is killed (it would go on computing) and replaced, and ``ComputeTimeout`` is raised;
a request that finds every process busy waits for one, within the same time limit.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from django.conf import settings


class ComputeTimeout(Exception):
    """The computation did not finish within its time limit (it was stopped)."""


def _ready() -> bool:
    return True


class _Process:
    """One worker process (a ProcessPoolExecutor of one), started on first use."""

    def __init__(self) -> None:
        self.executor: concurrent.futures.ProcessPoolExecutor | None = None

    def call(self, fn: Callable, args: tuple, timeout: float) -> Any:
        if self.executor is None:
            # spawn: a fork of a threaded server process could inherit a held lock.
            self.executor = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        future = self.executor.submit(fn, *args)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            self.stop()
            raise ComputeTimeout(f"stopped after {timeout:g} s") from None
        except BrokenProcessPool:
            self.stop()
            raise

    def stop(self) -> None:
        executor, self.executor = self.executor, None
        if executor is None:
            return
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            process.kill()
        executor.shutdown(wait=False, cancel_futures=True)


_lock = threading.Lock()
_idle: queue.Queue[_Process] | None = None


def _pool() -> queue.Queue[_Process]:
    global _idle
    with _lock:
        if _idle is None:
            _idle = queue.Queue()
            for _ in range(settings.COMPUTE_PROCESSES):
                _idle.put(_Process())
        return _idle


def run(fn: Callable, *args: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    idle = _pool()
    try:
        process = idle.get(timeout=timeout)
    except queue.Empty:
        raise ComputeTimeout(f"no compute process was free within {timeout:g} s") from None
    try:
        return process.call(fn, args, max(0.1, deadline - time.monotonic()))
    finally:
        idle.put(process)


def warm() -> None:
    """Start the processes now (a spawned interpreter takes a second to come up)."""
    run(_ready, timeout=60)
