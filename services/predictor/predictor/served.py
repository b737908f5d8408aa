"""A loaded model version: the sklearn pipeline, its compiled form, and what it is."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import numpy as np
import pandas as pd

from housing.contract import CATEGORICAL, EXAMPLE_RECORD, FEATURES, NUMERIC, HousingRecord
from housing.model import intervals, native
from housing.model.compiled import (
    CHUNK_ROWS,
    CompiledPipeline,
    NotCompilable,
    compile_pipeline,
)

_NUMERIC_OF = attrgetter(*NUMERIC)  # a record's numeric fields, in the contract's order
_CATEGORY_OF = attrgetter(CATEGORICAL)


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
    sha256: str | None = None  # of the model file, checked against the registry's tag
    trained_at: str | None = None  # when its training run ended
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    source: str = "registry"
    districts: Any = None  # predictor.districts.Districts: its training sample, if it has one

    @classmethod
    def build(cls, pipeline, **meta) -> ServedModel:
        try:
            compiled = compile_pipeline(pipeline)
        except NotCompilable:
            compiled = None  # still served, through scikit-learn only
        model = cls(pipeline=pipeline, compiled=compiled, **meta)
        model.warm_up()
        return model

    @property
    def identity(self) -> tuple[str, str | None, str | None]:
        """(version, run id, model digest), as `VersionInfo.identity` of what the alias names."""
        return (self.version, self.run_id, self.sha256)

    @property
    def interval_scores(self) -> np.ndarray | None:
        return intervals.scores_of(self.pipeline)

    def predict(self, records: list) -> list[float]:
        """Records with the contract's fields (see `housing.web.body.read_records`)."""
        return self._predict(records).tolist()

    def answer(self, records: list, interval: float | None) -> dict[str, list]:
        """`predictions`, and with an interval level `intervals` (the model must have its
        calibration: `interval_scores`)."""
        predictions = self._predict(records)
        if interval is None:
            return {"predictions": predictions.tolist()}
        bounds = intervals.pairs(predictions, self.interval_scores, interval)
        return {"predictions": predictions.tolist(), "intervals": bounds}

    def _predict(self, records: list) -> np.ndarray:
        numeric = np.array(list(map(_NUMERIC_OF, records)), dtype=np.float64)  # None -> NaN
        categories = list(map(_CATEGORY_OF, records))
        if self.compiled is not None:
            return self.compiled.predict(numeric, categories)
        frame = pd.DataFrame(numeric, columns=list(NUMERIC))
        frame[CATEGORICAL] = categories
        return self.pipeline.predict(frame[list(FEATURES)]).astype(np.float64)

    def warm_up(self) -> None:
        """Every path answers the example district with the same finite, positive price."""
        record = HousingRecord(**EXAMPLE_RECORD)
        try:
            frame = pd.DataFrame([record.model_dump()], columns=list(FEATURES))
            expected = float(self.pipeline.predict(frame)[0])
            # One row, and a batch that spans more than one chunk of the tree tables.
            answers = [self.predict([record])[0], self.predict([record] * (CHUNK_ROWS + 1))[-1]]
        except Exception as exc:  # noqa: BLE001 - any failure refuses the version
            raise WarmUpFailed(f"v{self.version} failed its warm-up prediction: {exc}") from exc
        if not (math.isfinite(expected) and expected > 0):
            raise WarmUpFailed(f"v{self.version} predicted {expected} for the example district")
        for answer in answers:
            if abs(answer - expected) > 1e-6 * abs(expected):
                raise WarmUpFailed(
                    f"v{self.version}: fast path disagrees with the pipeline "
                    f"({answer} vs {expected})"
                )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "run_id": self.run_id,
            "metrics": self.metrics,
            "trained_at": self.trained_at,
            "intervals": self.interval_scores is not None,
            "loaded_at": self.loaded_at,
            "source": self.source,
            "sha256": self.sha256,
            "fast_path": self.compiled is not None,
            "districts": 0 if self.districts is None else len(self.districts.records),
            # "c": the tree kernel (src/housing/model/leaf_tables.c); "numpy" where it is not built.
            "trees": None if self.compiled is None else ("c" if native.KERNEL else "numpy"),
        }

    def ref(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "run_id": self.run_id,
        }
