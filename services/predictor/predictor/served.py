"""A loaded model version: the sklearn pipeline, its compiled form, and what it is."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from housing.contract import EXAMPLE_RECORD, FEATURES, NUMERIC, HousingRecord
from housing.model.compiled import CompiledPipeline, NotCompilable, compile_pipeline


class WarmUpFailed(RuntimeError):
    """A version loaded but did not answer a sane prediction; it is refused."""


@dataclass
class ServedModel:
    name: str
    version: str
    alias: str
    run_id: str | None
    metrics: dict[str, float]
    pipeline: Any
    compiled: CompiledPipeline | None
    compiled_max_rows: int
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    source: str = "registry"

    @classmethod
    def build(cls, pipeline, compiled_max_rows: int, **meta) -> ServedModel:
        try:
            compiled = compile_pipeline(pipeline)
        except NotCompilable:
            compiled = None  # still served, through scikit-learn only
        model = cls(
            pipeline=pipeline, compiled=compiled, compiled_max_rows=compiled_max_rows, **meta
        )
        model.warm_up()
        return model

    def predict(self, records: list[HousingRecord]) -> list[float]:
        if self.compiled is not None and len(records) <= self.compiled_max_rows:
            numeric = np.array(
                [[getattr(r, f) for f in NUMERIC] for r in records], dtype=np.float64
            )
            return self.compiled.predict(numeric, [r.ocean_proximity for r in records]).tolist()
        frame = pd.DataFrame([r.model_dump() for r in records], columns=list(FEATURES))
        frame[list(NUMERIC)] = frame[list(NUMERIC)].astype(np.float64)
        return self.pipeline.predict(frame).astype(float).tolist()

    def warm_up(self) -> None:
        """Both paths answer the example district with the same finite, positive price."""
        record = HousingRecord(**EXAMPLE_RECORD)
        try:
            frame = pd.DataFrame([record.model_dump()], columns=list(FEATURES))
            by_sklearn = float(self.pipeline.predict(frame)[0])
            by_compiled = by_sklearn
            if self.compiled is not None:
                by_compiled = float(
                    self.compiled.predict(
                        np.array([[getattr(record, f) for f in NUMERIC]]), [record.ocean_proximity]
                    )[0]
                )
        except Exception as exc:  # noqa: BLE001 - any failure refuses the version
            raise WarmUpFailed(f"v{self.version} failed its warm-up prediction: {exc}") from exc
        if not (math.isfinite(by_sklearn) and by_sklearn > 0):
            raise WarmUpFailed(f"v{self.version} predicted {by_sklearn} for the example district")
        if abs(by_compiled - by_sklearn) > 1e-6 * abs(by_sklearn):
            raise WarmUpFailed(
                f"v{self.version}: compiled form disagrees ({by_compiled} vs {by_sklearn})"
            )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "run_id": self.run_id,
            "metrics": self.metrics,
            "loaded_at": self.loaded_at,
            "source": self.source,
            "fast_path": self.compiled is not None,
        }

    def ref(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "alias": self.alias}
