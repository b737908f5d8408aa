/*
 * The predictor's tree kernel: LeafTables.predict (compiled.py) in C, for the same numbers.
 *
 * numpy evaluates the tables one feature at a time over a block of rows, so every AND goes
 * through a temporary array in memory; here each row's 600 masks stay in the L1 cache while its
 * table rows are ANDed in, which halves the time of a 10,000-row batch. The layout of every array
 * is the one LeafTables holds; housing/model/native.py checks shapes and types before calling.
 * Built by scripts/build-native.sh (make install, the predictor's image); without it the numpy
 * version runs.
 */
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define CPU_VARIANTS __attribute__((target_clones("avx2", "default")))
#else
#define CPU_VARIANTS
#endif

#ifndef LEAF_TABLES_SOURCE_SHA256
#define LEAF_TABLES_SOURCE_SHA256 "unknown"
#endif

/* native.py loads the library only if it was built from the source file next to it. */
const char *leaf_tables_source_sha256(void) { return LEAF_TABLES_SOURCE_SHA256; }

/* How many of `thresholds[0..width)` (ascending) are below x: numpy's searchsorted(side="left"). */
static int64_t count_below(const double *thresholds, int64_t width, double x) {
    int64_t low = 0, high = width;
    while (low < high) {
        int64_t middle = low + (high - low) / 2;
        if (thresholds[middle] < x)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

/*
 * The lowest possible leaf. A real tree always leaves one; a crafted model may leave none, and
 * __builtin_ctzll(0) is undefined, so 0 reads slot 63 of the tree, as numpy's formula does.
 */
static inline int lowest_leaf(uint64_t possible) {
    return possible ? __builtin_ctzll(possible) : 63;
}

/*
 * X: (n_rows, n_cols) scaled numeric columns, row-major, no NaN; codes: (n_rows,) category codes.
 * features: (k,) columns of X with splits; thresholds: (k, width); offsets: (k + 1,) first table
 * row of each feature, then of the categories. table: (*, n_trees) masks of the leaves still
 * possible; leaf_values: (n_trees * 64,). possible: scratch of n_trees masks. out: (n_rows,).
 * The trees are summed in order from the baseline, as scikit-learn does.
 * On x86-64, two builds of this function, picked when the library loads: AVX2 where the CPU has
 * it (the AND loops run ~15% faster), plain x86-64 elsewhere, so one image runs on every host.
 */
CPU_VARIANTS
void leaf_tables_predict(const double *X, int64_t n_rows, int64_t n_cols, const int64_t *codes,
                         const int64_t *features, int64_t k, const double *thresholds,
                         int64_t width, const int64_t *offsets, const uint64_t *table,
                         int64_t n_trees, const double *leaf_values, double baseline,
                         uint64_t *possible, double *out) {
    for (int64_t r = 0; r < n_rows; r++) {
        const double *x = X + r * n_cols;
        const uint64_t *row = table + (offsets[k] + codes[r]) * n_trees;
        for (int64_t t = 0; t < n_trees; t++)
            possible[t] = row[t];
        for (int64_t j = 0; j < k; j++) {
            int64_t position = count_below(thresholds + j * width, width, x[features[j]]);
            row = table + (offsets[j] + position) * n_trees;
            for (int64_t t = 0; t < n_trees; t++)
                possible[t] &= row[t];
        }
        double sum = baseline;
        for (int64_t t = 0; t < n_trees; t++)
            sum += leaf_values[t * 64 + lowest_leaf(possible[t])];
        out[r] = sum;
    }
}
