"""The playground page in headless Chromium: fill, submit, see a price; see a field's error."""

from __future__ import annotations

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
    page.fill("#households", "126")


def test_wrong_key_is_shown_at_the_key_field(page):
    page.fill("#api-key", "not-the-key")
    page.click("#submit")
    page.wait_for_function("document.getElementById('error-api-key').textContent !== ''")
    assert "invalid API key" in page.inner_text("#error-api-key")
