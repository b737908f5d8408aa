"""A compiled form of the fitted pipeline for small requests.

scikit-learn spends ~10-40 ms of overhead per `Pipeline.predict` call (DataFrame handling in the
ColumnTransformer, input validation, a thread pool per call), whatever the number of rows. This
module reads the fitted parameters out of the pipeline once — imputer medians, ratio columns,
scaler moments, one-hot categories and every boosted tree — and evaluates them with a few
vectorised numpy operations. Nothing here is configured by hand: change the pipeline and
`compile_pipeline` either follows it or refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from housing.contract import CATEGORICAL, NUMERIC
from housing.model.features import RatioFeatures, ratio_columns

ROWS_WALKED_HERE = 12  # measured here: 16 rows cost the same either way (~2.6 ms)


class NotCompilable(TypeError):
    """The pipeline has a shape this module does not know; serve it with scikit-learn."""


@dataclass(frozen=True)
class CompiledPipeline:
    medians: np.ndarray  # (n_numeric,)
    mean: np.ndarray  # (n_numeric + n_ratios,)
    scale: np.ndarray
    categories: dict[str, int]  # category -> one-hot column; unknown -> all zeros
    node_feature: np.ndarray  # per internal-or-leaf node of every tree
    node_threshold: np.ndarray
    children: np.ndarray  # (2 * n_nodes,): [left, right] per node; a leaf points to itself
    node_value: np.ndarray
    roots: np.ndarray  # index of each tree's root
    depth: int
    baseline: float
    regressor: HistGradientBoostingRegressor  # its native (Cython) predict for large batches

    def predict(self, numeric: np.ndarray, categories: list[str]) -> np.ndarray:
        """`numeric`: (n, 8) float64 in `contract.NUMERIC` order, NaN where unknown.

        A few rows are walked through the trees here; more go to the regressor's own compiled
        predict, which beats a Python loop per row but costs ~2.4 ms to set up.
        """
        features = self.transform(numeric, categories)
        if features.shape[0] > ROWS_WALKED_HERE:
            return self.regressor.predict(features)
        out = np.empty(features.shape[0], dtype=np.float64)
        for row, x in enumerate(features):
            out[row] = self._predict_row(x)
        return out

    def transform(self, numeric: np.ndarray, categories: list[str]) -> np.ndarray:
        imputed = np.where(np.isnan(numeric), self.medians, numeric)
        scaled = (np.hstack([imputed, ratio_columns(imputed)]) - self.mean) / self.scale
        onehot = np.zeros((numeric.shape[0], len(self.categories)), dtype=np.float64)
        for row, category in enumerate(categories):
            column = self.categories.get(category)
            if column is not None:
                onehot[row, column] = 1.0
        return np.hstack([scaled, onehot])

    def _predict_row(self, x: np.ndarray) -> float:
        # `x` is imputed (no NaN), so HistGradientBoosting's rule is just: left when
        # value <= threshold. Only the nodes being visited are compared, all trees at once.
        node = self.roots
        feature, threshold, children = self.node_feature, self.node_threshold, self.children
        for _ in range(self.depth):
            go_right = x.take(feature.take(node)) > threshold.take(node)
            node = children.take(2 * node + go_right)
        return float(self.baseline + self.node_value.take(node).sum())


def _steps(pipeline: Pipeline):
    try:
        preprocess = pipeline.named_steps["preprocess"]
        regressor = pipeline.named_steps["regressor"]
        numeric_pipe = preprocess.named_transformers_["numeric"]
        onehot = preprocess.named_transformers_["categorical"]
        imputer, ratios, scaler = (
            numeric_pipe.named_steps[s] for s in ("impute", "ratios", "scale")
        )
    except (AttributeError, KeyError, ValueError) as exc:
        raise NotCompilable(f"unexpected pipeline layout: {exc}") from exc
    expected = (
        (preprocess, ColumnTransformer),
        (regressor, HistGradientBoostingRegressor),
        (imputer, SimpleImputer),
        (ratios, RatioFeatures),
        (scaler, StandardScaler),
        (onehot, OneHotEncoder),
    )
    for step, kind in expected:
        if not isinstance(step, kind):
            raise NotCompilable(f"expected {kind.__name__}, found {type(step).__name__}")
    return preprocess, regressor, imputer, scaler, onehot


def compile_pipeline(pipeline: Pipeline) -> CompiledPipeline:
    preprocess, regressor, imputer, scaler, onehot = _steps(pipeline)
    columns = {
        name: list(cols) for name, _, cols in preprocess.transformers_ if name != "remainder"
    }
    if columns.get("numeric") != list(NUMERIC) or columns.get("categorical") != [CATEGORICAL]:
        raise NotCompilable(f"unexpected column routing: {columns}")
    if regressor.loss != "squared_error" or regressor.is_categorical_ is not None:
        raise NotCompilable("only squared-error regression on numeric features is compiled")
    if not (scaler.with_mean and scaler.with_std) or imputer.strategy not in ("median", "mean"):
        raise NotCompilable("unexpected scaler or imputer settings")

    trees = [stage[0].nodes for stage in regressor._predictors]
    sizes = np.array([len(t) for t in trees])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    nodes = np.concatenate(trees)
    node_offset = np.repeat(offsets, sizes)
    own = np.arange(len(nodes))
    leaf = nodes["is_leaf"].astype(bool)
    left = np.where(leaf, own, nodes["left"].astype(np.intp) + node_offset)
    right = np.where(leaf, own, nodes["right"].astype(np.intp) + node_offset)
    return CompiledPipeline(
        medians=imputer.statistics_.astype(np.float64),
        mean=scaler.mean_.astype(np.float64),
        scale=scaler.scale_.astype(np.float64),
        categories={c: i for i, c in enumerate(onehot.categories_[0])},
        node_feature=np.where(leaf, 0, nodes["feature_idx"]).astype(np.intp),
        node_threshold=nodes["num_threshold"].astype(np.float64),
        children=np.stack([left, right], axis=1).reshape(-1),
        node_value=np.where(leaf, nodes["value"], 0.0),
        roots=offsets.astype(np.intp),
        depth=int(nodes["depth"].max()),
        baseline=float(np.asarray(regressor._baseline_prediction).ravel()[0]),
        regressor=regressor,
    )
