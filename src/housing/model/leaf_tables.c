/*
 * The predictor's tree kernel: LeafTables.predict (compiled.py) in C, for the same numbers.
 *
 * numpy evaluates the tables one feature at a time over a block of rows, so every AND goes
 * through a temporary array in memory; here a row's masks for a block of trees stay in registers
 * while its table rows are ANDed in. The layout of every array is the one LeafTables holds, but
 * for the table's (see TREE_BLOCK); housing/model/native.py checks shapes and types before
 * calling.
 * Built with feature_kernels.c by scripts/build-native.sh (make install, the predictor's image);
 * without it the numpy version runs.
 */
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define CPU_VARIANTS __attribute__((target_clones("avx2", "default")))
#else
#define CPU_VARIANTS
#endif

#ifndef KERNELS_SOURCE_SHA256
#define KERNELS_SOURCE_SHA256 "unknown"
#endif

/* native.py loads the library only if it was built from the source files next to it. */
const char *kernels_source_sha256(void) { return KERNELS_SOURCE_SHA256; }

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

/* Trees per pass over a batch. The table is laid out pass by pass (compiled.py's TREE_BLOCK,
 * checked by native.py), so a pass reads one contiguous slice, which stays in the L2 cache for
 * the whole batch (the full table does not fit there), and a row's masks fit in registers. */
#define TREE_BLOCK 32
int64_t leaf_tables_tree_block(void) { return TREE_BLOCK; } /* native.py lays the table out by it */

/* Four masks: GCC's vector extension, one AVX2 register (two SSE2 ones in the default build).
 * Written out because the compiler, left to itself, interchanged the loops and gathered. */
typedef uint64_t masks4 __attribute__((vector_size(32), aligned(8)));
#define VECTORS (TREE_BLOCK / 4)

/* One pass for one row: AND the row's table rows (TREE_BLOCK masks each, `trees` of them real)
 * and add each tree's leaf value to the row's sum, in tree order. */
static inline double pass(const uint64_t *slice, const int64_t *row, int64_t k, int64_t trees,
                          const double *values, double sum) {
    masks4 possible[VECTORS];
    const masks4 *masks = (const masks4 *)(slice + row[k] * TREE_BLOCK);
    for (int v = 0; v < VECTORS; v++)
        possible[v] = masks[v];
    for (int64_t j = 0; j < k; j++) {
        masks = (const masks4 *)(slice + row[j] * TREE_BLOCK);
        for (int v = 0; v < VECTORS; v++)
            possible[v] &= masks[v];
    }
    for (int64_t t = 0; t < trees; t++)
        sum += values[t * 64 + lowest_leaf(possible[t / 4][t % 4])];
    return sum;
}

/*
 * The trees as compiled.py's LeafTables holds them, laid out for this file by native.py:
 * features: (k,) columns of X with splits; thresholds: (k, width) each one's distinct thresholds
 * (+inf padded); offsets: (k + 1,) first table row of each feature, then of the categories.
 * blocked: the table (table_rows x n_trees masks of the leaves still possible) as ceil(n_trees /
 * TREE_BLOCK) slices of (table_rows, TREE_BLOCK), the last padded with all-ones masks.
 * leaf_values: (n_trees * 64,). nodes, depths and code_slots: the trees for walking (walk_rows).
 */
struct leaf_tables {
    const int64_t *features;
    int64_t k;
    const double *thresholds;
    int64_t width;
    const int64_t *offsets;
    const uint64_t *blocked;
    int64_t table_rows, n_trees;
    const double *leaf_values;
    double baseline;
    const uint32_t *nodes;     /* (n_trees padded to WALK_LANES, TREE_NODES) */
    const int64_t *depths;     /* per WALK_LANES trees, the deepest leaf's depth */
    const uint8_t *code_slots; /* (categories + 1, n_onehot) */
    int64_t n_onehot;
    int64_t n_codes; /* category codes run from 0 to n_codes - 1 */
};

/* Up to this many rows, each row walks every tree instead (walk_rows). */
#define WALK_ROWS 4

/*
 * Trees walked node by node, WALK_LANES at a time: a row goes right at a node when its position
 * among the node's feature's thresholds is past the node's threshold (value > threshold, as in
 * scikit-learn). A node is 32 bits: the slot of its feature in `slots` (8), the rank of its
 * threshold among the feature's (8), its left and right child (8 each). A tree is 128 nodes: 64
 * for its splits, root first, and at 64 + j its leaf j, which points to itself both ways; so
 * every lane takes the same number of steps (the group's depth, `depths`) without a branch, and
 * the lanes' loads overlap. A tree is 512 bytes, and all of them stay in the L2 cache, where a
 * single row's pass over the tables reads the whole table from memory.
 */
#define WALK_LANES 16
#define TREE_NODES 128
int64_t leaf_tables_walk_lanes(void) { return WALK_LANES; } /* native.py pads and groups by it */
int64_t leaf_tables_tree_nodes(void) { return TREE_NODES; } /* native.py checks compiled.py's */

static void walk_rows(const struct leaf_tables *m, const double *X, int64_t n_rows,
                      int64_t n_cols, const int64_t *codes, double *out) {
    uint8_t slots[256]; /* the numeric features' positions, then the one-hot columns' */
    for (int64_t r = 0; r < n_rows; r++) {
        const double *x = X + r * n_cols;
        for (int64_t j = 0; j < m->k; j++)
            slots[j] = (uint8_t)count_below(m->thresholds + j * m->width, m->width,
                                            x[m->features[j]]);
        for (int64_t s = 0; s < m->n_onehot; s++)
            slots[m->k + s] = m->code_slots[codes[r] * m->n_onehot + s];
        double sum = m->baseline;
        for (int64_t first = 0; first < m->n_trees; first += WALK_LANES) {
            const uint32_t *trees = m->nodes + first * TREE_NODES;
            uint32_t at[WALK_LANES] = {0};
            for (int64_t step = 0; step < m->depths[first / WALK_LANES]; step++)
                for (int lane = 0; lane < WALK_LANES; lane++) {
                    uint32_t node = trees[lane * TREE_NODES + at[lane]];
                    uint32_t right = slots[node & 255] > ((node >> 8) & 255);
                    at[lane] = (node >> (16 + 8 * right)) & 255;
                }
            int64_t lanes = m->n_trees - first < WALK_LANES ? m->n_trees - first : WALK_LANES;
            for (int lane = 0; lane < lanes; lane++)
                sum += m->leaf_values[(first + lane) * 64 + at[lane] - 64];
        }
        out[r] = sum;
    }
}

/*
 * X: (n_rows, n_cols) scaled numeric columns, row-major, no NaN; codes: (n_rows,) category codes.
 * rows: scratch of n_rows * (k + 1) table-row indices. out: (n_rows,). Returns 0, or -1 (and
 * computes nothing) when a code is out of range: codes index the tables.
 * A few rows walk the trees; more go through the tables: each row's position among each
 * feature's thresholds is found once, then the trees are taken TREE_BLOCK at a time, over all
 * rows. Either way each row's sum adds the trees in order from the baseline, as scikit-learn
 * does, so the bits do not depend on the path, the blocking or the batch.
 * On x86-64, two builds of this function, picked when the library loads: AVX2 where the CPU has
 * it (the AND loops run faster), plain x86-64 elsewhere, so one image runs on every host.
 */
CPU_VARIANTS
int leaf_tables_predict(const struct leaf_tables *m, const double *X, int64_t n_rows,
                        int64_t n_cols, const int64_t *codes, int64_t *rows, double *out) {
    for (int64_t r = 0; r < n_rows; r++)
        if (codes[r] < 0 || codes[r] >= m->n_codes)
            return -1;
    if (n_rows <= WALK_ROWS) {
        walk_rows(m, X, n_rows, n_cols, codes, out);
        return 0;
    }
    int64_t k = m->k;
    for (int64_t r = 0; r < n_rows; r++) {
        const double *x = X + r * n_cols;
        int64_t *row = rows + r * (k + 1);
        for (int64_t j = 0; j < k; j++)
            row[j] = m->offsets[j] + count_below(m->thresholds + j * m->width, m->width,
                                                 x[m->features[j]]);
        row[k] = m->offsets[k] + codes[r];
        out[r] = m->baseline;
    }
    for (int64_t first = 0; first < m->n_trees; first += TREE_BLOCK) {
        int64_t trees = m->n_trees - first < TREE_BLOCK ? m->n_trees - first : TREE_BLOCK;
        const uint64_t *slice = m->blocked + first * m->table_rows;
        const double *values = m->leaf_values + first * 64;
        for (int64_t r = 0; r < n_rows; r++)
            out[r] = pass(slice, rows + r * (k + 1), k, trees, values, out[r]);
    }
    return 0;
}
