"""CPU-bound work of the web tier runs here, in a few worker processes, never in the
process that serves requests: a pure-Python computation in a request thread holds the
interpreter lock and every other request of that process waits behind it.

``run(fn, *args, timeout=s, lane="heavy")`` calls ``fn`` (a module-level function: it is
pickled by name) in a process of the lane and returns its result. Past ``timeout`` seconds
the process is killed (it would go on computing) and replaced, and ``ComputeTimeout`` is
raised; a request that finds every process of its lane busy waits for one, within the same
time limit. Two lanes, so that slow work cannot queue quick work behind it: ``heavy``
(COMPUTE_PROCESSES processes at a lower CPU priority: PLD accounting), ``light``
(COMPUTE_LIGHT_PROCESSES: RDP) and ``search`` (COMPUTE_SEARCH_PROCESSES: the alignment,
embedding, keys and decryption of browser searches, inference/engine/browser_probe.py).
``remembered(fn, *args, ...)`` is ``run`` for pure functions, answering a repeated question
from memory.
"""

from __future__ import annotations

import collections
import concurrent.futures
import copy
import importlib
import multiprocessing
import os
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


def _lower_priority(niceness: int) -> None:
    # Slow work yields the CPU to the processes that answer requests.
    os.nice(niceness)


class _Process:
    """One worker process (a ProcessPoolExecutor of one), started on first use."""

    def __init__(self, niceness: int = 0) -> None:
        self.niceness = niceness
        self.executor: concurrent.futures.ProcessPoolExecutor | None = None

    def call(self, fn: Callable, args: tuple, timeout: float) -> Any:
        if self.executor is None:
            # spawn: a fork of a threaded server process could inherit a held lock.
            self.executor = concurrent.futures.ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_lower_priority, initargs=(self.niceness,))
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


LANES = ("heavy", "light", "search")
HEAVY_NICENESS = 10
# A browser search's faces and keys: user-facing, but seconds of CPU that light requests
# must not queue behind (bench/web_load.py).
SEARCH_NICENESS = 5
_lock = threading.Lock()
_idle: dict[str, queue.Queue[_Process]] = {}


def _pool(lane: str) -> queue.Queue[_Process]:
    if lane not in LANES:
        raise ValueError(f"lane must be one of {LANES}, got {lane!r}")
    with _lock:
        if lane not in _idle:
            size = {"heavy": settings.COMPUTE_PROCESSES, "light": settings.COMPUTE_LIGHT_PROCESSES,
                    "search": settings.COMPUTE_SEARCH_PROCESSES}[lane]
            _idle[lane] = queue.Queue()
            for _ in range(size):
                _idle[lane].put(_Process(niceness={"heavy": HEAVY_NICENESS, "search": SEARCH_NICENESS}.get(lane, 0)))
        return _idle[lane]


def call_by_name(target: str, *args: Any) -> Any:
    """``target`` is "package.module:function": imported where it runs, in the compute process."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(*args)


def run(fn: Callable | str, *args: Any, timeout: float, lane: str = "heavy") -> Any:
    """``fn`` may be named ("package.module:function"), so that this process need not import
    its module (the accountants import dp-accounting and SciPy: seconds, and memory)."""
    if isinstance(fn, str):
        fn, args = call_by_name, (fn, *args)
    deadline = time.monotonic() + timeout
    idle = _pool(lane)
    try:
        process = idle.get(timeout=timeout)
    except queue.Empty:
        raise ComputeTimeout(f"no compute process was free within {timeout:g} s") from None
    try:
        return process.call(fn, args, max(0.1, deadline - time.monotonic()))
    finally:
        idle.put(process)


# Answers of pure computations (privacy estimates) by their arguments, per web process: the
# dashboard's forms ask the same question again and again, and a repeated slow estimate
# should cost nothing the second time. Failures are not kept.
ANSWER_CACHE_SIZE = 256
_answers: collections.OrderedDict[str, Any] = collections.OrderedDict()


def remembered(fn: Callable | str, *args: Any, timeout: float, lane: str = "heavy") -> Any:
    """``run(fn, *args)`` for a pure ``fn``, answered from memory when asked before."""
    key = f"{fn if isinstance(fn, str) else f'{fn.__module__}:{fn.__qualname__}'}{args!r}"
    with _lock:
        if key in _answers:
            _answers.move_to_end(key)
            return copy.deepcopy(_answers[key])
    answer = run(fn, *args, timeout=timeout, lane=lane)
    with _lock:
        _answers[key] = copy.deepcopy(answer)
        while len(_answers) > ANSWER_CACHE_SIZE:
            _answers.popitem(last=False)
    return answer


def forget() -> None:
    with _lock:
        _answers.clear()


def warm(lane: str = "light") -> None:
    """Start a process now (a spawned interpreter takes a second to come up)."""
    run(_ready, timeout=60, lane=lane)
