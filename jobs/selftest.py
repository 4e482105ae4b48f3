"""The `selftest` job kind: a few seconds of fake work that exercises the whole path
(queue, worker, events, websocket, cancel) until real jobs exist."""

from __future__ import annotations

import time

from rest_framework import serializers

from privface_core.errors import UserError


class SelftestParams(serializers.Serializer):
    steps = serializers.IntegerField(min_value=1, max_value=1000, default=10)
    step_seconds = serializers.FloatField(min_value=0.0, max_value=10.0, default=0.5)
    fail_at = serializers.IntegerField(min_value=1, required=False, help_text="fail at this step (for tests)")


def run(ctx) -> dict:
    steps = int(ctx.params.get("steps", 10))
    step_seconds = float(ctx.params.get("step_seconds", 0.5))
    fail_at = ctx.params.get("fail_at")
    for step in range(1, steps + 1):
        time.sleep(step_seconds)
        if fail_at and step >= fail_at:
            raise UserError(f"selftest asked to fail at step {fail_at}")
        ctx.progress(step / steps, f"Step {step} of {steps}", step=step, total=steps)
    return {"steps": steps}
