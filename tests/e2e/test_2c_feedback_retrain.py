"""A retrain on the raw data plus the stack's own feedback: the trainer job exports the labelled
records from the prediction log, adds them to DVC, and the version it registers names both data
sets in its lineage."""

from __future__ import annotations

import re

from housing.defaults import DATA_SHA256
from tests.e2e.conftest import compose
from tests.e2e.test_1b_monitor import send

LABELLED = 200


def test_a_retrain_on_feedback_registers_a_version_naming_both_data_sets(
    registry, gateway, api_key, split
):
    # Training districts with their prices: kept by prepare (test districts would be left out).
    send(gateway, api_key, split[0].sample(LABELLED, random_state=31), feedback=True)
    before = set(registry.versions())
    done = compose(
        "run", "--rm",
        "-e", "TRAIN_PARAMS=prepare.feedback=true,train.max_iter=60,train.cv_folds=0", "trainer",
        check=False,
    )  # fmt: skip
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-3000:]
    exported = re.search(r"feedback: (\d+) labelled records from the prediction log", said)
    assert exported and int(exported.group(1)) >= LABELLED, said[-3000:]
    (version,) = set(registry.versions()) - before
    found = registry.get("model-versions/get", name=registry.name, version=version)
    run = registry.get("runs/get", run_id=found["model_version"]["run_id"])["run"]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["data.raw_sha256"] == DATA_SHA256
    assert re.fullmatch(r"[0-9a-f]{64}", tags["data.feedback_sha256"]), tags
    assert re.fullmatch(r"[0-9a-f]{32}", tags["data.feedback_dvc_md5"]), tags
    kept = re.search(r"prepared (\d+) train \((\d+) from", said)
    print(
        f"\nretrained on feedback: v{version}, {exported.group(1)} exported, "
        f"{kept.group(2) if kept else '?'} kept; sha256 {tags['data.feedback_sha256'][:12]}"
    )
