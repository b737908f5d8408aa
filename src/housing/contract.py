"""The feature contract: the one definition of what a district record is.

Imported by the trainer (to validate the raw CSV), the predictor and the gateway (to validate
requests). It must stay light: pydantic only, no pandas or scikit-learn, because the gateway's
image does not carry them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

TARGET = "median_house_value"
# The census capped district prices here: about 5 % of the data set sits at it, and no model sees
# a price above it.
PRICE_CAP = 500_001.0
# The levels `POST /predict?interval=` accepts: the share of true prices an interval should hold.
INTERVAL_LEVELS: tuple[float, float] = (0.5, 0.99)
CATEGORICAL = "ocean_proximity"
CATEGORIES: tuple[str, ...] = ("<1H OCEAN", "INLAND", "ISLAND", "NEAR BAY", "NEAR OCEAN")

# Bounds shared by request validation and raw-data validation: (lower, lower_inclusive, upper).
# Counts may be zero except households, which divides two of the ratio features.
NUMERIC_BOUNDS: dict[str, tuple[float, bool, float | None]] = {
    "longitude": (-180.0, True, 180.0),
    "latitude": (-90.0, True, 90.0),
    "housing_median_age": (0.0, True, None),
    "total_rooms": (0.0, True, None),
    "total_bedrooms": (0.0, True, None),
    "population": (0.0, True, None),
    "households": (0.0, False, None),
    "median_income": (0.0, True, None),
}
NUMERIC: tuple[str, ...] = tuple(NUMERIC_BOUNDS)
NULLABLE: frozenset[str] = frozenset({"total_bedrooms"})
FEATURES: tuple[str, ...] = (*NUMERIC, CATEGORICAL)
# The raw CSV's columns, in its order (and of what `housing feedback export` writes).
RAW_COLUMNS: tuple[str, ...] = (*NUMERIC, TARGET, CATEGORICAL)

OceanProximity = Literal["<1H OCEAN", "INLAND", "ISLAND", "NEAR BAY", "NEAR OCEAN"]

# A real district (the first row of the data set, minus its price) for docs and the playground.
EXAMPLE_RECORD: dict[str, Any] = {
    "longitude": -122.23,
    "latitude": 37.88,
    "housing_median_age": 41.0,
    "total_rooms": 880.0,
    "total_bedrooms": 129.0,
    "population": 322.0,
    "households": 126.0,
    "median_income": 8.3252,
    "ocean_proximity": "NEAR BAY",
}


def _number(name: str, description: str) -> Any:
    lower, inclusive, upper = NUMERIC_BOUNDS[name]
    bounds: dict[str, float] = {"ge" if inclusive else "gt": lower}
    if upper is not None:
        bounds["le"] = upper
    # strict: "12" is not a number here; allow_inf_nan=False refuses NaN and Infinity tokens.
    return Field(..., description=description, strict=True, allow_inf_nan=False, **bounds)


class HousingRecord(BaseModel):
    """One California district, as in the raw CSV without its price."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_RECORD]})

    longitude: float = _number("longitude", "Degrees east (negative in California).")
    latitude: float = _number("latitude", "Degrees north.")
    housing_median_age: float = _number("housing_median_age", "Median age of houses, years.")
    total_rooms: float = _number("total_rooms", "Rooms in the district.")
    total_bedrooms: float | None = _number("total_bedrooms", "Bedrooms; null when unknown.")
    population: float = _number("population", "People living in the district.")
    households: float = _number("households", "Households; must be above zero.")
    median_income: float = _number("median_income", "Median income, tens of thousands of USD.")
    ocean_proximity: OceanProximity = Field(..., description="One of: " + ", ".join(CATEGORIES))


class RecordBatch(BaseModel):
    """Several districts at once; predictions come back in the same order."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"records": [EXAMPLE_RECORD]}]}
    )

    # fail_fast: validation stops at the first bad record, which the refusal names. Validating
    # (and reporting) every record of a body of bad ones would cost the server far more than the
    # caller paid to send it.
    records: list[HousingRecord] = Field(..., min_length=1, fail_fast=True)


def _request_kind(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "records" in value else "record"


PredictRequest = Annotated[
    Annotated[HousingRecord, Tag("record")] | Annotated[RecordBatch, Tag("batch")],
    Discriminator(_request_kind),
]


def records_of(request: HousingRecord | RecordBatch) -> list[HousingRecord]:
    return request.records if isinstance(request, RecordBatch) else [request]


class ModelRef(BaseModel):
    name: str
    version: str
    alias: str
    # The version's run: with the number, what the model is (a new registry numbers from 1 again).
    run_id: str | None = None


class PredictResponse(BaseModel):
    predictions: list[float] = Field(
        ..., description="Median house value of each record's district, in USD, in order"
    )
    model: ModelRef
    request_id: str | None = Field(None, description="As in the X-Request-ID header")
    intervals: list[tuple[float, float]] | None = Field(
        None,
        description=(
            "Only with `?interval=`: per record, [low, high] in USD, a range that holds the true "
            "price with the requested probability (split conformal prediction on the model's "
            "out-of-fold errors; the model card gives the coverage measured on the test split)."
        ),
    )
