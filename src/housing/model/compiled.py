"""A compiled form of the fitted pipeline: the same predictions without scikit-learn's overhead.

scikit-learn spends milliseconds of overhead per `Pipeline.predict` call (DataFrame handling in the
ColumnTransformer, input validation, a thread pool per call), whatever the number of rows, and
HistGradientBoosting's own predict walks every tree node by node (mostly mispredicted branches);
`make bench` measures the difference against `mlflow models serve`. This module reads the fitted
parameters out of the pipeline once — imputer medians, ratio columns, scaler moments, one-hot
categories and every boosted tree — and evaluates them with a few vectorised numpy operations, the
trees through the C kernel in leaf_tables.c when it is built (native.py), else in numpy. Nothing
here is configured by hand: change the pipeline and `compile_pipeline` either follows it or refuses
it.

The trees are evaluated as in QuickScorer (Lucchese et al., SIGIR 2015): number each tree's leaves
from left to right; a split that sends a row right rules out the leaves of its left subtree, so a
row exits at the leftmost leaf that no split has ruled out. Whether a split sends a row right
depends only on where the row's value falls among the distinct thresholds of that feature, so for
every feature and every such position the tables below hold, per tree, the leaves still possible
(a 64-bit mask). A row is then one threshold search per feature, one AND over the features' table
rows, and the lowest set bit of each tree's mask.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from housing.contract import CATEGORICAL, NUMERIC
from housing.model import native
from housing.model.compiled_blocks import Branch, Impute, NotCompilable, compile_step
from housing.model.pipeline import (
    CATEGORICAL_BRANCH,
    IMPUTE,
    NUMERIC_BRANCH,
    PREPROCESS,
    REGRESSOR,
)

MAX_LEAVES = 64  # one bit per leaf in a uint64
# Trees per block of the table: the C kernel's TREE_BLOCK (leaf_tables.c, checked when bound),
# whose pass over a batch reads one block, small enough to stay in the L2 cache.
TREE_BLOCK = 32
FEW_ROWS = 8  # up to here one broadcast gather is faster (see LeafTables.predict)
CHUNK_ROWS = 128  # rows per AND over the tables: 0.6 MB of masks for 600 trees; fastest here
_ALL = np.uint64(2**64 - 1)
_ONE = np.uint64(1)


@dataclass(frozen=True)
class LeafTables:
    """The boosted trees as QuickScorer tables (see the module's docstring).

    The one-hot columns of the categorical feature are not searched column by column: a row has
    one category, so the AND of their table rows is known per category in advance and is one more
    table row, picked by the category's code (4 lookups of 15 become 1).
    """

    features: np.ndarray  # (k,) the numeric columns that some split uses
    thresholds: np.ndarray  # (k, width) each one's distinct thresholds, ascending, +inf padded
    offsets: np.ndarray  # (k + 1,) the first table row of each feature, then of the categories
    # (n_trees / TREE_BLOCK, rows, TREE_BLOCK) uint64: per position and tree, the leaves still
    # possible; TREE_BLOCK trees at a time (`_into_blocks`), the last block padded with all-ones
    table: np.ndarray
    leaf_values: np.ndarray  # (n_trees * 64,) the value of leaf j of tree t at 64 t + j
    tree_base: np.ndarray  # (n_trees,) 64 t
    baseline: float
    # The same trees for walking them node by node (leaf_tables.c, `walk_rows`), which is faster
    # for a few rows: (n_trees, WALKED_NODES) uint32 nodes (see `_walked`), each tree's depth, and
    # per category code the positions of the one-hot columns that some split uses,
    # (n_categories + 1, n_onehot) uint8.
    nodes: np.ndarray
    depths: np.ndarray
    code_slots: np.ndarray
    kernel: native.Bound | None = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "kernel", native.bind(self))

    def predict(self, X: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """`X`: the scaled numeric columns; `codes`: each row's category code (see `code_of`)."""
        if native.KERNEL is not None and self.kernel is not None:
            return self.kernel.predict(X, codes)
        return self.predict_numpy(X, codes)

    def predict_numpy(self, X: np.ndarray, codes: np.ndarray) -> np.ndarray:
        # HistGradientBoosting sends a value right when value > threshold (inputs have no NaN
        # here: they are imputed), so a row's position among a feature's thresholds is the
        # count of thresholds below its value. Two ways to the same numbers: one broadcast
        # comparison and one gather is cheaper for a few rows, one search and one gather per
        # feature for more (FEW_ROWS is where they cross on this kind of machine).
        k, few = len(self.features), X.shape[0] <= FEW_ROWS
        positions = np.empty((X.shape[0], k + 1), dtype=np.intp)
        if few:
            positions[:, :k] = (X[:, self.features, None] > self.thresholds).sum(axis=2)
        else:
            for j, feature in enumerate(self.features):
                positions[:, j] = np.searchsorted(self.thresholds[j], X[:, feature])
        positions[:, k] = codes
        positions += self.offsets
        if few:
            return self._sum_leaves(
                self._by_tree(np.bitwise_and.reduce(self.table[:, positions, :], axis=2))
            )
        return np.concatenate(
            [
                self._sum_leaves(self._possible(positions[i : i + CHUNK_ROWS]))
                for i in range(0, X.shape[0], CHUNK_ROWS)
            ]
        )

    def _possible(self, positions: np.ndarray) -> np.ndarray:
        possible = self.table[:, positions[:, 0], :]
        for j in range(1, positions.shape[1]):
            possible &= self.table[:, positions[:, j], :]
        return self._by_tree(possible)

    def _by_tree(self, blocked: np.ndarray) -> np.ndarray:
        """(blocks, rows, TREE_BLOCK) masks -> (rows, n_trees)."""
        rows = blocked.shape[1]
        return blocked.transpose(1, 0, 2).reshape(rows, -1)[:, : len(self.tree_base)]

    def _sum_leaves(self, possible: np.ndarray) -> np.ndarray:
        """(rows, trees) masks of the leaves still possible -> each row's prediction."""
        first = np.bitwise_count(possible ^ (possible - _ONE)).astype(np.intp) - 1  # lowest bit
        return self.baseline + self.leaf_values[self.tree_base + first].sum(axis=1)


@dataclass(frozen=True)
class CompiledPipeline:
    """The numeric branch's steps in the pipeline's order (impute, then each block appending its
    columns, compiled_blocks.py; then an optional scaling), the one-hot categories, the trees."""

    impute: Impute
    blocks: tuple  # compiled_blocks' Ratios, Geography, Neighbours, in the pipeline's order
    branch: Branch | None  # all of them in one kernel call, when the kernel is loaded
    mean: np.ndarray | None  # (n_columns,) a StandardScaler's, when the branch ends in one
    scale: np.ndarray | None
    width: int  # columns out of the numeric branch
    categories: dict[str, int]  # category -> code; any other value -> len(categories)
    trees: LeafTables

    def predict(self, numeric: np.ndarray, categories: list[str]) -> np.ndarray:
        """`numeric`: (n, 8) float64 in `contract.NUMERIC` order, NaN where unknown."""
        return self.trees.predict(self.transform(numeric), self.code_of(categories))

    def transform(self, numeric: np.ndarray) -> np.ndarray:
        # The same operations as the pipeline's, in the same order, so the values are identical.
        rows, width = numeric.shape
        if width != len(self.impute.fill):
            raise ValueError(f"expected {len(self.impute.fill)} numeric columns, got {width}")
        out = np.empty((rows, self.width), dtype=np.float64)
        if native.KERNEL is not None and self.branch is not None:
            self.branch(numeric, out)
        else:
            self.impute(numeric, out)
            at = width
            for block in self.blocks:
                block(out, at, width)
                at += block.columns
        if self.mean is not None:
            out -= self.mean
            out /= self.scale
        return out

    def code_of(self, categories: list[str]) -> np.ndarray:
        unknown, get = len(self.categories), self.categories.get
        return np.fromiter((get(c, unknown) for c in categories), np.intp, len(categories))


def _steps(pipeline: Pipeline):
    try:
        preprocess = pipeline.named_steps[PREPROCESS]
        regressor = pipeline.named_steps[REGRESSOR]
        numeric_pipe = preprocess.named_transformers_[NUMERIC_BRANCH]
        onehot = preprocess.named_transformers_[CATEGORICAL_BRANCH]
        (first, imputer), *rest = numeric_pipe.steps
    except (AttributeError, KeyError, ValueError) as exc:
        raise NotCompilable(f"unexpected pipeline layout: {exc}") from exc
    scaler = rest.pop()[1] if rest and isinstance(rest[-1][1], StandardScaler) else None
    expected = (
        (preprocess, ColumnTransformer),
        (regressor, HistGradientBoostingRegressor),
        (imputer, SimpleImputer),
        (onehot, OneHotEncoder),
    )
    for step, kind in expected:
        if not isinstance(step, kind):
            raise NotCompilable(f"expected {kind.__name__}, found {type(step).__name__}")
    if first != IMPUTE:
        raise NotCompilable(f"the numeric branch starts with {first!r}, not {IMPUTE!r}")
    return preprocess, regressor, imputer, [step for _, step in rest], scaler, onehot


def compile_pipeline(pipeline: Pipeline) -> CompiledPipeline:
    preprocess, regressor, imputer, appended, scaler, onehot = _steps(pipeline)
    columns = {
        name: list(cols) for name, _, cols in preprocess.transformers_ if name != "remainder"
    }
    if columns.get(NUMERIC_BRANCH) != list(NUMERIC) or columns.get(CATEGORICAL_BRANCH) != [
        CATEGORICAL
    ]:
        raise NotCompilable(f"unexpected column routing: {columns}")
    if regressor.loss != "squared_error" or regressor.is_categorical_ is not None:
        raise NotCompilable("only squared-error regression on numeric features is compiled")
    if scaler is not None and not (scaler.with_mean and scaler.with_std):
        raise NotCompilable("unexpected scaler settings")
    if imputer.strategy not in ("median", "mean"):
        raise NotCompilable("unexpected imputer settings")
    if onehot.drop_idx_ is not None or onehot.handle_unknown != "ignore":
        raise NotCompilable("only a full one-hot encoding that ignores unknown categories")
    categories = [str(c) for c in onehot.categories_[0]]
    blocks = tuple(compile_step(step) for step in appended)
    width = len(NUMERIC) + sum(block.columns for block in blocks)
    impute = Impute(np.ascontiguousarray(imputer.statistics_, dtype=np.float64))
    return CompiledPipeline(
        impute=impute,
        branch=Branch.of(impute, blocks),
        blocks=blocks,
        mean=None if scaler is None else scaler.mean_.astype(np.float64),
        scale=None if scaler is None else scaler.scale_.astype(np.float64),
        width=width,
        categories={c: i for i, c in enumerate(categories)},
        trees=_leaf_tables(regressor, width, len(categories)),
    )


def _leaf_tables(
    regressor: HistGradientBoostingRegressor, n_scaled: int, n_categories: int
) -> LeafTables:
    """Columns [0, n_scaled) are numeric; the next n_categories are one category's one-hot."""
    n_trees = len(regressor._predictors)
    leaf_values = np.zeros((n_trees, MAX_LEAVES), dtype=np.float64)
    splits: list[tuple[int, int, float, int]] = []  # (tree, feature, threshold, mask)
    walked: list[tuple[list, int]] = []  # per tree, its split nodes as walked, and its depth
    for tree, stage in enumerate(regressor._predictors):
        if len(stage) != 1:
            raise NotCompilable("only single-output boosting is compiled")
        nodes = stage[0].nodes
        if int(nodes["is_leaf"].sum()) > MAX_LEAVES:
            raise NotCompilable(f"a tree has more than {MAX_LEAVES} leaves (max_leaf_nodes)")
        walked.append(_read_tree(nodes, tree, leaf_values, splits))
    if not splits:
        raise NotCompilable("no tree has a split")
    tree_of, feature_of, threshold_of, mask_of = zip(*splits, strict=True)
    split_tree, split_feature = np.array(tree_of), np.array(feature_of)
    split_threshold = np.array(threshold_of, dtype=np.float64)
    split_mask = np.array(mask_of, dtype=np.uint64)
    if split_feature.max() >= n_scaled + n_categories:
        raise NotCompilable("a split on a column the pipeline does not produce")

    def block(feature: int) -> tuple[np.ndarray, np.ndarray]:
        """The feature's distinct thresholds, and its table rows (one per position)."""
        ours = split_feature == feature
        distinct = np.unique(split_threshold[ours])
        rows = np.full((len(distinct) + 1, n_trees), _ALL, dtype=np.uint64)
        # A value above threshold i sits at position i + 1 or later: rule the leaves out there.
        position = np.searchsorted(distinct, split_threshold[ours]) + 1
        np.bitwise_and.at(rows, (position, split_tree[ours]), split_mask[ours])
        return distinct, np.bitwise_and.accumulate(rows, axis=0)

    used = np.unique(split_feature)
    features = used[used < n_scaled]
    blocks = [block(f) for f in features]
    onehot = used[used >= n_scaled]
    onehot_blocks = [block(column) for column in onehot]
    # Category c sets one-hot column n_scaled + c to 1 and the others to 0; code n_categories
    # (an unknown category) sets them all to 0.
    by_category = np.full((n_categories + 1, n_trees), _ALL, dtype=np.uint64)
    code_slots = np.zeros((n_categories + 1, len(onehot)), dtype=np.uint8)
    for slot, (column, (distinct, rows)) in enumerate(zip(onehot, onehot_blocks, strict=True)):
        for code in range(n_categories + 1):
            position = np.searchsorted(distinct, 1.0 if column - n_scaled == code else 0.0)
            by_category[code] &= rows[position]
            code_slots[code, slot] = position
    width = max((len(d) for d, _ in blocks), default=0)
    thresholds = np.full((len(blocks), width), np.inf)
    for j, (distinct, _) in enumerate(blocks):
        thresholds[j, : len(distinct)] = distinct
    parts = [rows for _, rows in blocks] + [by_category]
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])[:-1]])
    table = np.empty((-(-n_trees // TREE_BLOCK), sum(map(len, parts)), TREE_BLOCK), np.uint64)
    for start, part in zip(offsets, parts, strict=True):
        _into_blocks(part, table[:, start : start + len(part)])
    distinct_of = [d for d, _ in blocks + onehot_blocks]  # per slot: numeric, then one-hot
    if len(distinct_of) > WALK_SLOTS or max(len(d) for d in distinct_of) > WALK_RANKS:
        raise NotCompilable("more split features or thresholds than a walked node encodes")
    slot_of = {int(column): slot for slot, column in enumerate([*features, *onehot])}
    return LeafTables(
        features=features.astype(np.intp),
        thresholds=thresholds,
        offsets=offsets.astype(np.intp),
        table=table,
        leaf_values=leaf_values.reshape(-1),
        tree_base=np.arange(n_trees, dtype=np.intp) * MAX_LEAVES,
        baseline=float(np.asarray(regressor._baseline_prediction).ravel()[0]),
        nodes=_walked_nodes([tree for tree, _ in walked], slot_of, distinct_of),
        depths=np.array([max(depth, 1) for _, depth in walked], dtype=np.intp),
        code_slots=code_slots,
    )


def _into_blocks(rows: np.ndarray, out: np.ndarray) -> None:
    """(r, n_trees) masks -> out (blocks, r, TREE_BLOCK), the last block's padding all ones
    (trees that rule nothing out, and whose leaves are never summed)."""
    n_trees = rows.shape[1]
    for i, first in enumerate(range(0, n_trees, TREE_BLOCK)):
        part = rows[:, first : first + TREE_BLOCK]
        out[i, :, : part.shape[1]] = part
        out[i, :, part.shape[1] :] = _ALL


WALK_SLOTS, WALK_RANKS = 256, 254  # a walked node's 8-bit feature slot and threshold rank
WALKED_NODES = 2 * MAX_LEAVES  # per walked tree: its splits, then its leaves


def _walked_nodes(trees: list[list], slot_of: dict[int, int], distinct_of: list) -> np.ndarray:
    """The trees as leaf_tables.c walks them: per tree WALKED_NODES nodes of 32 bits, slot |
    rank << 8 | left << 16 | right << 24, its splits from 0 (the root first, `_read_tree`), its
    leaf j at 64 + j, pointing to itself both ways (rank 255: no position is past it). A tree
    that is one leaf gets a root that sends every row to leaf 0."""
    leaf = np.arange(MAX_LEAVES, WALKED_NODES, dtype=np.uint32)
    out = np.zeros((len(trees), WALKED_NODES), dtype=np.uint32)
    out[:, MAX_LEAVES:] = 255 << 8 | leaf << 16 | leaf << 24
    out[:, 0] = 255 << 8 | MAX_LEAVES << 16 | MAX_LEAVES << 24  # kept by one-leaf trees only
    tree_of = np.repeat(np.arange(len(trees)), [len(t) for t in trees])
    node_of = np.concatenate([np.arange(len(t)) for t in trees])
    every = np.array(list(itertools.chain.from_iterable(trees)), dtype=np.float64)
    feature, left, right = every[:, [0, 2, 3]].astype(np.intp).T
    threshold = every[:, 1]
    lookup = np.zeros(max(slot_of) + 1, dtype=np.uint32)
    lookup[list(slot_of)] = list(slot_of.values())
    slot = lookup[feature]
    rank = np.empty(len(slot), dtype=np.uint32)
    for s in np.unique(slot):
        ours = slot == s
        rank[ours] = np.searchsorted(distinct_of[s], threshold[ours])
    packed = slot | rank << 8 | left.astype(np.uint32) << 16 | right.astype(np.uint32) << 24
    out[tree_of, node_of] = packed
    return out


def _read_tree(nodes: np.ndarray, tree: int, leaf_values: np.ndarray, splits: list) -> tuple:
    """Number the leaves left to right; record each split with the mask of leaves it keeps (for
    the tables), and return the split nodes as the walk reads them, in preorder (the root
    first): (feature, threshold, left, right), a child being a node's number or MAX_LEAVES + a
    leaf's; and the depth of the deepest leaf."""
    is_leaf, value = nodes["is_leaf"].tolist(), nodes["value"].tolist()
    left_of, right_of = nodes["left"].tolist(), nodes["right"].tolist()
    feature_of, threshold_of = nodes["feature_idx"].tolist(), nodes["num_threshold"].tolist()
    walked: list = []
    count = depth = 0

    def visit(node: int, level: int) -> tuple[int, int, int]:  # first, end leaf; reference
        nonlocal count, depth
        if is_leaf[node]:
            leaf_values[tree, count] = value[node]
            count, depth = count + 1, max(depth, level)
            return count - 1, count, MAX_LEAVES + count - 1
        me = len(walked)
        walked.append(None)
        first, middle, left = visit(left_of[node], level + 1)
        _, end, right = visit(right_of[node], level + 1)
        left_leaves = ((1 << middle) - 1) ^ ((1 << first) - 1)
        splits.append((tree, feature_of[node], threshold_of[node], (2**64 - 1) ^ left_leaves))
        walked[me] = (feature_of[node], threshold_of[node], left, right)
        return first, end, me

    visit(0, 0)
    return walked, depth
