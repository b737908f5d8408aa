"""Stage `report`: the model card and its plots for the trained pipeline, from the test split.

Written into a folder (`reports/`) that `register` logs with the run, so that every registered
version carries its own card in the MLflow UI."""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from sklearn.inspection import permutation_importance

from housing.contract import FEATURES
from housing.data.validate import read_raw
from housing.files import load_params, sha256_of, umask
from housing.model import intervals, persist
from housing.model.pipeline import NUMERIC_BRANCH, PREPROCESS, split_xy
from housing.model.scoring import REPORTED_LEVELS
from housing.report import card, plots
from housing.report.breakdown import breakdown
from housing.tracking.lineage import git_commit

CARD_FILE = "model_card.md"
FACTS_FILE = "model_card.json"  # the card's figures, for a machine
IMPORTANCE_REPEATS = 5


def run(
    raw: Path, model_dir: Path, test_csv: Path, metrics_file: Path, params_file: Path, out_dir: Path
) -> dict:
    pipeline = persist.load_model(model_dir)
    info = json.loads((model_dir / persist.INFO_FILE).read_text())
    X, y = split_xy(read_raw(test_csv))
    predicted = pipeline.predict(X)
    train_params = load_params(params_file, "train")
    facts = {
        "model": {
            "name": "housing-price",
            "description": _describe(pipeline),
            "params": json.dumps(train_params, sort_keys=True),
        },
        "lineage": {
            "raw_sha256": sha256_of(raw),
            "train_sha256": info.get("train_sha256", "not recorded"),
            "test_sha256": sha256_of(test_csv),
            "train_rows": int(info["train_rows"]),
            "test_rows": int(len(y)),
            "git_commit": git_commit(Path.cwd()) or "none",
        },
        "cv": {
            "folds": train_params.get("cv_folds", 0),
            "mean": info.get("cv_rmse_mean", float("nan")),
            "std": info.get("cv_rmse_std", float("nan")),
        },
        "metrics": json.loads(metrics_file.read_text()),
        "breakdown": breakdown(pipeline, X, y, predicted),
    }
    scores = intervals.scores_of(pipeline)
    if scores is not None:
        facts["intervals"] = {
            str(level): (
                facts["metrics"][f"interval_{round(level * 100)}_coverage"],
                facts["metrics"][f"interval_{round(level * 100)}_mean_width"],
            )
            for level in REPORTED_LEVELS
        }
    seed = int(train_params.get("seed", 42))
    importance = permutation_importance(
        pipeline, X, y, scoring="neg_root_mean_squared_error",
        n_repeats=IMPORTANCE_REPEATS, random_state=seed,
    )  # fmt: skip
    facts["permutation_importance"] = {
        field: float(mean)
        for field, mean in zip(FEATURES, importance.importances_mean, strict=True)
    }
    with _fresh_folder(out_dir) as tmp:
        plots.predicted_vs_actual(y, predicted, tmp)
        plots.residual_map(X["longitude"].to_numpy(), X["latitude"].to_numpy(), predicted - y, tmp)
        plots.permutation_importance(
            list(FEATURES), importance.importances_mean, importance.importances_std, tmp
        )
        if scores is not None:
            level = max(REPORTED_LEVELS)
            plots.width_vs_error(
                y, predicted, intervals.bounds(predicted, scores, level), level, tmp
            )
        (tmp / CARD_FILE).write_text(card.render(facts))
        (tmp / FACTS_FILE).write_text(json.dumps(facts, indent=2, sort_keys=True))
    return facts


def _describe(pipeline) -> str:
    regressor = pipeline.steps[-1][1]
    trees = getattr(regressor, "n_iter_", None)
    return (
        f"{type(regressor).__name__}, {trees} trees of at most "
        f"{regressor.max_leaf_nodes} leaves (depth {regressor.max_depth or 'unlimited'}), "
        f"on {len(FEATURES)} request fields expanded inside the pipeline: "
        + " → ".join(name for name, _ in _numeric_branch(pipeline).steps)
    )


def _numeric_branch(pipeline):
    return pipeline.named_steps[PREPROCESS].named_transformers_[NUMERIC_BRANCH]


@contextmanager
def _fresh_folder(dest: Path):
    """A folder beside `dest`, written whole and then swapped in: never half a report."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    old = dest.with_name(f".{dest.name}.old")
    try:
        yield tmp
        tmp.chmod(0o777 & ~umask())
        shutil.rmtree(old, ignore_errors=True)
        if dest.exists():
            dest.rename(old)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
