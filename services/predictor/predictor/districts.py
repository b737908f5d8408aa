"""GET /districts/nearest: the real district nearest a place, from the served version's sample
of its training districts (the reference the register stage logs with the run). The playground
fills its form from it when the map is clicked; no row of the data set ships with the code.

The sample is the reference's (housing.monitor.reference): each row's features only, never its
price. A version whose run has no reference has no sample; it still serves."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from scipy.spatial import cKDTree

from housing.contract import FEATURES, ModelRef
from housing.model.geography import PROJECTION
from housing.monitor.reference import FRAME_FILE
from housing.web.errors import error_response
from predictor.status import not_ready

log = logging.getLogger("predictor")
# In a version's cache folder, beside model/: a single artifact downloads to its file name.
SAMPLE = Path(FRAME_FILE)

router = APIRouter()


@dataclass(frozen=True)
class Districts:
    records: list[dict]  # FEATURES of each district, as a client sends them
    tree: cKDTree  # of their places, in kilometres east and north

    @classmethod
    def read(cls, path: Path) -> Districts | None:
        """The sample at `path`; None when the version has none or it cannot be read."""
        if not path.is_file():
            return None
        try:
            frame = pd.read_csv(path)[list(FEATURES)]
            frame = frame.dropna(subset=["longitude", "latitude"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("district sample %s not read (%s): the map fills places only", path, exc)
            return None
        places = frame[["longitude", "latitude"]].to_numpy(np.float64) * PROJECTION
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        return cls(records, cKDTree(places)) if records else None

    def nearest(self, longitude: float, latitude: float) -> tuple[dict, float]:
        """The district nearest the place, and how far it is (km)."""
        distance, index = self.tree.query(np.array([longitude, latitude]) * PROJECTION)
        return self.records[int(index)], float(distance)


class Nearest(BaseModel):
    district: dict = Field(description="Its nine features, as /predict takes a record")
    distance_km: float = Field(description="From the place asked about to the district")
    model: ModelRef = Field(description="The version whose training sample it comes from")


@router.get(
    "/districts/nearest",
    response_model=Nearest,
    responses={
        404: {"description": "The version serving has no sample of districts"},
        503: {"description": "No model is loaded yet; see Retry-After"},
    },
)
async def nearest_district(
    request: Request,
    longitude: float = Query(
        ge=-180, le=180, description="Degrees east (California: -124 to -114)"
    ),
    latitude: float = Query(ge=-90, le=90, description="Degrees north (California: 32 to 42)"),
) -> JSONResponse:
    """The real district nearest a place, from the served version's training sample."""
    model = request.app.state.manager.current
    if model is None:
        return not_ready()
    if model.districts is None:
        return error_response(404, f"v{model.version} has no sample of districts")
    district, km = model.districts.nearest(longitude, latitude)
    return JSONResponse({"district": district, "distance_km": round(km, 3), "model": model.ref()})
