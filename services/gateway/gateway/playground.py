"""The playground page: a form with the nine features, served with no external asset."""

from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from housing.contract import CATEGORICAL, CATEGORIES, EXAMPLE_RECORD, NULLABLE, NUMERIC

PAGE = Path(__file__).with_name("static") / "playground.html"

router = APIRouter()


def _field(name: str) -> str:
    label = name.replace("_", " ")
    if name in NUMERIC:
        hint = " (may be empty)" if name in NULLABLE else ""
        control = (
            f'<input id="{name}" name="{name}" inputmode="decimal" '
            f'value="{html.escape(str(EXAMPLE_RECORD[name]))}">'
        )
    else:
        options = "".join(
            f"<option{' selected' if c == EXAMPLE_RECORD[name] else ''}>{html.escape(c)}</option>"
            for c in CATEGORIES
        )
        hint, control = "", f'<select id="{name}" name="{name}">{options}</select>'
    return (
        f'<div class="field"><label for="{name}">{label}{hint}</label>{control}'
        f'<span class="error" id="error-{name}" role="alert"></span></div>'
    )


@lru_cache
def render() -> str:
    fields = "\n".join(_field(name) for name in (*NUMERIC, CATEGORICAL))
    template = PAGE.read_text()
    return (
        template.replace("{{FIELDS}}", fields)
        .replace("{{NUMERIC}}", json.dumps(list(NUMERIC)))
        .replace("{{CATEGORICAL}}", json.dumps(CATEGORICAL))
    )


@router.get("/", include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(render())
