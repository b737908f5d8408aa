"""The report stage: a model card with the test split's figures, four PNG plots, and nothing
half-written when it fails."""

from __future__ import annotations

import json

import pytest

from housing.stages import evaluate, report

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def card_inputs(stage_inputs, tmp_path_factory):
    work = tmp_path_factory.mktemp("report")
    metrics = work / "metrics.json"
    evaluate.run(stage_inputs / "trained", stage_inputs / "prepared/test.csv", metrics)
    return stage_inputs, metrics, work


def test_the_card_states_the_figures_and_the_plots_are_images(card_inputs):
    stage_inputs, metrics_file, work = card_inputs
    out = work / "reports"
    facts = report.run(
        stage_inputs / "housing.csv", stage_inputs / "trained", stage_inputs / "prepared/test.csv",
        metrics_file, stage_inputs / "params.yaml", out,
    )  # fmt: skip
    metrics = json.loads(metrics_file.read_text())
    card = (out / report.CARD_FILE).read_text()
    assert f"| {metrics['rmse']:,.0f} | {metrics['mae']:,.0f} | {metrics['r2']:.3f} |" in card
    for section in ("Intended use", "By ocean proximity", "By median income", "Known limits"):
        assert f"## {section}" in card or f"### {section}" in card
    coverage = metrics["interval_90_coverage"]
    assert f"| 0.9 | {coverage:.1%} |" in card
    assert set(facts["permutation_importance"]) >= {"median_income", "longitude", "latitude"}
    assert max(facts["permutation_importance"], key=facts["permutation_importance"].get) in (
        "median_income", "longitude", "latitude",
    )  # fmt: skip
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert len(pngs) == 4
    for name in pngs:
        assert f"]({name})" in card
        data = (out / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000
    assert json.loads((out / report.FACTS_FILE).read_text())["metrics"] == metrics


def test_a_failed_report_leaves_the_last_one_whole(card_inputs):
    stage_inputs, metrics_file, work = card_inputs
    out = work / "kept"
    args = [stage_inputs / "housing.csv", stage_inputs / "trained"]
    args += [stage_inputs / "prepared/test.csv"]
    report.run(*args, metrics_file, stage_inputs / "params.yaml", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    broken = work / "broken.json"
    broken.write_text("{}")  # no figures: the card cannot be written
    with pytest.raises(KeyError):
        report.run(*args, broken, stage_inputs / "params.yaml", out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in work.iterdir() if p.name.startswith(".")] == []
