"""The web tier's side of open-set calibration: recompute a gallery's threshold from the
score samples its last enrollment stored (encrypted) beside its templates."""

from __future__ import annotations

from collections.abc import Callable

from inference.engine.calibration import Scores, pick_threshold, rates

from .models import Gallery
from .serializers import embedder_metadata
from .storage import store_for


def recalibrator(gallery: Gallery) -> Callable[[float, float | None], tuple[dict, dict | None]]:
    """``(fpir_target, owner threshold) -> (calibration, rates at the owner's threshold)``."""

    def recalibrate(fpir_target: float, threshold: float | None) -> tuple[dict, dict | None]:
        stored = store_for(gallery.pk, gallery.store).read_calibration() if gallery.store else None
        if stored is None or not stored["scores"]:  # nothing enrolled yet, or an older gallery
            calibration = {**(gallery.calibration or {}), "fpir_target": fpir_target}
            return calibration, None
        scores = Scores.from_arrays(stored["scores"])
        default = embedder_metadata(gallery)["default_threshold"]
        calibration = pick_threshold(scores, fpir_target, default).to_dict()
        return calibration, rates(scores, threshold) if threshold is not None else None

    return recalibrate
