"""JobContext.progress_every: the one throttle of the loops that report per byte, photo or step."""

import pytest

from jobs import runner
from jobs.models import Job


@pytest.fixture
def ctx(monkeypatch):
    sent, clock = [], [100.0]
    monkeypatch.setattr(runner.actions, "report_progress",
                        lambda job_id, fraction, message, **extra: sent.append((fraction, message, extra)) or False)
    monkeypatch.setattr(runner.time, "monotonic", lambda: clock[0])
    context = runner.JobContext(Job(pk=1, owner_id=1, kind="selftest", params={}))
    context.sent, context.clock = sent, clock
    return context


def test_it_sends_the_first_report_then_after_a_step_or_a_pause(ctx):
    assert ctx.progress_every(0.0, "a", min_change=0.1, seconds=1.0, n=0)
    assert not ctx.progress_every(0.05, "b", min_change=0.1, seconds=1.0)
    assert ctx.progress_every(0.1, "c", min_change=0.1, seconds=1.0)
    ctx.clock[0] += 0.5
    assert not ctx.progress_every(0.15, "d", min_change=0.1, seconds=1.0)
    ctx.clock[0] += 0.5
    assert ctx.progress_every(0.16, "e", min_change=0.1, seconds=1.0)
    assert ctx.progress_every(0.17, "f", min_change=0.1, seconds=1.0, last=True)
    assert ctx.sent == [(0.0, "a", {"n": 0}), (0.1, "c", {}), (0.16, "e", {}), (0.17, "f", {})]


def test_a_plain_report_counts_as_the_last_one_sent(ctx):
    ctx.progress(0.5, "phase")
    assert not ctx.progress_every(0.5, "loop", min_change=0.1, seconds=1.0)
    assert ctx.progress_every(0.3, "next phase goes back", min_change=0.1, seconds=1.0)


def test_a_dropped_report_still_sees_a_cancel(ctx):
    ctx.progress_every(0.0, "a", seconds=1.0)
    ctx._cancel_seen.set()
    with pytest.raises(runner.JobCancelled):
        ctx.progress_every(0.0, "b", seconds=1.0)


def test_a_loops_own_step_number_reaches_the_event(ctx):
    # training reports step=N of its loop: it is event data, not the throttle's min_change
    assert ctx.progress_every(0.5, "Epoch 1 · step 7 of 14", seconds=1.0, step=7, total=14, loss=2.5)
    assert ctx.sent == [(0.5, "Epoch 1 · step 7 of 14", {"step": 7, "total": 14, "loss": 2.5})]
