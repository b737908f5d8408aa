"""The playground page in headless Chromium: the map and presets, a price with its interval,
latency and request id, the what-if chart, copy-as-curl, errors at their fields, and an axe-core
scan. HOUSING_PLAYGROUND_SCREENSHOT=<png> saves what the page looks like after a prediction (the
README's picture)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import GATEWAY_KEY as KEY

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def page(gateway_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page()
        page.goto(gateway_url + "/")
        yield page
        browser.close()


def test_fill_submit_and_see_a_price_and_version(page, predictor):
    page.fill("#api-key", KEY)
    page.fill("#median_income", "5.5")
    page.select_option("#ocean_proximity", "INLAND")
    page.click("#submit")
    page.wait_for_selector("#price", timeout=10_000)
    assert page.inner_text("#price").startswith("$")
    version = predictor["client"].get("/model").json()["version"]
    assert f"v{version}" in page.inner_text("#version")
    assert page.evaluate("sessionStorage.getItem('housing-api-key')") == KEY


def test_bad_value_shows_an_error_next_to_its_field(page):
    page.fill("#api-key", KEY)
    page.fill("#households", "0")
    page.click("#submit")
    page.wait_for_function("document.getElementById('error-households').textContent !== ''")
    assert "greater than 0" in page.inner_text("#error-households")
    assert page.inner_text("#error-median_income") == ""
    assert page.get_attribute("#households", "aria-invalid") == "true"
    assert page.get_attribute("#households", "aria-describedby") == "error-households"
    assert page.evaluate("document.activeElement.id") == "households"  # focus on the first error
    page.fill("#households", "126")


def test_click_the_map_predict_and_read_the_interval(page, predictor):
    from gateway.playground import project

    page.fill("#api-key", KEY)
    page.click(".preset[data-preset='Central Valley']")
    assert page.input_value("#ocean_proximity") == "INLAND"
    # Click where Fresno is (-119.79, 36.74): the form takes the place.
    box = page.locator("#map").bounding_box()
    width = float(page.get_attribute("#map", "viewBox").split()[2])
    x, y = project(-119.79, 36.74)
    scale = box["width"] / width
    where = {"position": {"x": x * scale, "y": y * scale}}
    page.fill("#api-key", "")  # without a key: the place only, and a word on why
    page.locator("#map").click(**where)
    assert abs(float(page.input_value("#longitude")) + 119.79) < 0.1
    assert abs(float(page.input_value("#latitude")) - 36.74) < 0.1
    assert "Enter your API key" in page.inner_text("#place")
    page.fill("#api-key", KEY)  # with it: every field from the nearest real district
    with page.expect_response("**/districts/nearest?*") as answered:
        page.locator("#map").click(**where)
    nearest = answered.value.json()
    page.wait_for_function("document.getElementById('place').textContent.includes('real district')")
    for name, value in nearest["district"].items():
        shown = page.input_value(f"#{name}")
        if isinstance(value, float):
            assert float(shown) == value, name
        else:
            assert shown == ("" if value is None else value), name
    assert nearest["distance_km"] < 15  # Fresno has districts of its own
    assert abs(float(page.input_value("#longitude")) + 119.79) < 0.2
    page.click("#submit")
    page.wait_for_selector("#interval", timeout=10_000)
    price = money(page.inner_text("#price"))
    low, high = (money(part) for part in page.inner_text("#interval").split(":")[1].split("–"))
    assert low <= price <= high, (low, price, high)
    assert page.inner_text("#interval").startswith("90 % interval")
    assert "answered in" in page.inner_text("#latency")
    assert len(page.inner_text("#request-id").split()[-1]) >= 16
    # The what-if chart: one point per income from 1 to 15, from one batch request.
    page.wait_for_selector("#whatif polyline", timeout=10_000)
    points = page.get_attribute("#whatif polyline", "points").split()
    assert len(points) == 29
    curl = page.inner_text("#curl")
    income = nearest["district"]["median_income"]  # the district's, as the form sent it
    assert "/predict?interval=0.9" in curl and f'"median_income":{income:g}' in curl
    assert "$HOUSING_API_KEY" in curl and KEY not in curl  # the key stays out of the clipboard
    assert page.is_enabled("#copy-curl") and page.is_enabled("#submit")
    shot = os.environ.get("HOUSING_PLAYGROUND_SCREENSHOT")
    if shot:
        page.set_viewport_size({"width": 1100, "height": 1000})
        page.screenshot(path=shot, full_page=True)


def money(text: str) -> float:
    return float(text.strip().replace("$", "").replace(",", ""))


def test_an_axe_scan_finds_nothing_serious(page):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [
        (v["id"], v["impact"], v["help"])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, serious


def test_every_field_is_labelled_with_its_unit_and_range(page):
    income = page.inner_text("label[for=median_income]")
    assert "tens of thousands of USD" in income and "≥ 0" in income
    assert "-180 to 180" in page.inner_text("label[for=longitude]")
    assert "> 0" in page.inner_text("label[for=households]")


def test_wrong_key_is_shown_at_the_key_field(page):
    page.fill("#api-key", "not-the-key")
    page.click("#submit")
    page.wait_for_function("document.getElementById('error-api-key').textContent !== ''")
    assert "invalid API key" in page.inner_text("#error-api-key")
