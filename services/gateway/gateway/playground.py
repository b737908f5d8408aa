"""The playground page (`GET /`): a map of California to pick a place, presets, a form with the
nine features (each labelled with its unit and range), the price with its interval, latency and
request id, a what-if chart of price against income, and copy-as-curl. One page, no external
asset: the map is an inline SVG of a simplified outline of the state."""

from __future__ import annotations

import html
import json
import math
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from housing.contract import (
    CATEGORICAL,
    CATEGORIES,
    EXAMPLE_RECORD,
    NULLABLE,
    NUMERIC,
    NUMERIC_BOUNDS,
    HousingRecord,
)

PAGE = Path(__file__).with_name("static") / "playground.html"

router = APIRouter()

# A simplified outline of California (longitude, latitude), clockwise from the north-west corner:
# enough to point at a region; the form's coordinates are what the model reads.
OUTLINE = [
    (-124.21, 42.00), (-120.00, 42.00), (-120.00, 39.00), (-117.50, 37.10), (-114.63, 35.00),
    (-114.13, 34.30), (-114.72, 32.72), (-117.12, 32.53), (-117.25, 32.85), (-117.40, 33.30),
    (-118.10, 33.75), (-118.50, 34.03), (-119.20, 34.15), (-120.60, 34.55), (-120.65, 35.20),
    (-121.30, 35.70), (-121.90, 36.30), (-121.80, 36.85), (-122.40, 37.20), (-122.50, 37.80),
    (-122.95, 38.05), (-123.70, 38.95), (-123.85, 39.80), (-124.40, 40.45), (-124.10, 41.00),
    (-124.21, 42.00),
]  # fmt: skip
WEST, EAST, SOUTH, NORTH = -124.6, -114.0, 32.3, 42.2
# Degrees of longitude are shorter than degrees of latitude here: an equirectangular view at the
# state's middle latitude keeps its shape.
X_SCALE = math.cos(math.radians((SOUTH + NORTH) / 2))
PX_PER_DEGREE = 40

# Districts made up for the presets (not rows of the data set): typical of each region.
PRESETS = {
    "Bay Area": {
        "longitude": -122.27, "latitude": 37.80, "housing_median_age": 40.0, "total_rooms": 2200.0,
        "total_bedrooms": 480.0, "population": 1100.0, "households": 450.0, "median_income": 6.0,
        "ocean_proximity": "NEAR BAY",
    },
    "Central Valley": {
        "longitude": -119.80, "latitude": 36.75, "housing_median_age": 25.0, "total_rooms": 2500.0,
        "total_bedrooms": 500.0, "population": 1500.0, "households": 480.0, "median_income": 3.0,
        "ocean_proximity": "INLAND",
    },
    "LA coast": {
        "longitude": -118.45, "latitude": 34.00, "housing_median_age": 35.0, "total_rooms": 2400.0,
        "total_bedrooms": 560.0, "population": 1250.0, "households": 530.0, "median_income": 5.5,
        "ocean_proximity": "<1H OCEAN",
    },
}  # fmt: skip


def project(longitude: float, latitude: float) -> tuple[float, float]:
    """A place's point on the map (the page inverts it for a click)."""
    return (
        round((longitude - WEST) * X_SCALE * PX_PER_DEGREE, 1),
        round((NORTH - latitude) * PX_PER_DEGREE, 1),
    )


def _range(name: str) -> str:
    lower, inclusive, upper = NUMERIC_BOUNDS[name]
    if upper is not None:
        return f"{lower:g} to {upper:g}"
    return f"{'≥' if inclusive else '>'} {lower:g}"


def _field(name: str) -> str:
    error = f"error-{name}"
    if name in NUMERIC:
        unit = HousingRecord.model_fields[name].description.rstrip(".")
        optional = ", may be empty" if name in NULLABLE else ""
        label = (
            f"{name.replace('_', ' ')} <span class=unit>({unit}; {_range(name)}{optional})</span>"
        )
        control = (
            f'<input id="{name}" name="{name}" inputmode="decimal" aria-describedby="{error}" '
            f'value="{html.escape(str(EXAMPLE_RECORD[name]))}">'
        )
    else:
        options = "".join(
            f"<option{' selected' if c == EXAMPLE_RECORD[name] else ''}>{html.escape(c)}</option>"
            for c in CATEGORIES
        )
        label = "ocean proximity"
        control = f'<select id="{name}" name="{name}" aria-describedby="{error}">{options}</select>'
    return (
        f'<div class="field"><label for="{name}">{label}</label>{control}'
        f'<span class="error" id="{error}"></span></div>'
    )


def _map() -> str:
    width, height = project(EAST, SOUTH)
    outline = " ".join(f"{x},{y}" for x, y in (project(lon, lat) for lon, lat in OUTLINE))
    return (
        f'<svg id="map" viewBox="0 0 {width} {height}" role="img" aria-labelledby="map-title">'
        '<title id="map-title">Map of California: click to place the district</title>'
        f'<polygon points="{outline}" class="land"/>'
        '<circle id="marker" r="5" cx="0" cy="0"/></svg>'
    )


@lru_cache
def render() -> str:
    fields = "\n".join(_field(name) for name in (*NUMERIC, CATEGORICAL))
    buttons = "".join(
        f'<button type="button" class="preset" data-preset="{html.escape(name)}">'
        f"{html.escape(name)}</button>"
        for name in PRESETS
    )
    projection = {
        "west": WEST, "north": NORTH, "xScale": X_SCALE, "pxPerDegree": PX_PER_DEGREE,
    }  # fmt: skip
    template = PAGE.read_text()
    return (
        template.replace("{{FIELDS}}", fields)
        .replace("{{MAP}}", _map())
        .replace("{{PRESET_BUTTONS}}", buttons)
        .replace("{{PRESETS}}", json.dumps(PRESETS))
        .replace("{{PROJECTION}}", json.dumps(projection))
        .replace("{{NUMERIC}}", json.dumps(list(NUMERIC)))
        .replace("{{CATEGORICAL}}", json.dumps(CATEGORICAL))
    )


@router.get("/", include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(render())
