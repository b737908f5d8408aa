/*
 * The predictor's feature kernels: the numeric branch of the pipeline (compiled_blocks.py) in C,
 * for the same bits as its numpy form.
 *
 * A request is one row, and numpy spends a microsecond or more on every call whatever the size
 * of its arrays: the neighbour statistics alone are a dozen calls, and the KD-tree query's own
 * overhead is larger. Here each block is one call. Every function works on `rows`, an (n_rows,
 * stride) row-major array whose first columns are the imputed numeric fields (contract.NUMERIC
 * order) and writes its columns from column `at` on.
 *
 * Same bits, not just close: a last-bit difference can put a value on the other side of a tree's
 * threshold. So the operations are numpy's, in numpy's order, and the build turns off contraction
 * into fused multiply-adds (scripts/build-native.sh). Nothing here calls exp or log, whose
 * libraries differ.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Missing fields (NaN) take the fitted imputer's statistic. */
void impute_rows(const double *numeric, int64_t n_rows, int64_t width, const double *fill,
                 double *rows, int64_t stride) {
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t j = 0; j < width; j++) {
            double value = numeric[r * width + j];
            rows[r * stride + j] = isnan(value) ? fill[j] : value;
        }
}

/* RatioFeatures: numerator / denominator, 0 where the denominator is 0, clipped to +-limit. */
void ratio_columns(double *rows, int64_t n_rows, int64_t stride, const int64_t *pairs,
                   int64_t n_pairs, double limit, int64_t at) {
    for (int64_t r = 0; r < n_rows; r++) {
        double *row = rows + r * stride;
        for (int64_t j = 0; j < n_pairs; j++) {
            double denominator = row[pairs[2 * j + 1]];
            double ratio = denominator != 0 ? row[pairs[2 * j]] / denominator : 0.0;
            row[at + j] = ratio < -limit ? -limit : (ratio > limit ? limit : ratio);
        }
    }
}

/* The projection of geography.project: kilometres east and north. */
struct projection {
    int64_t lon, lat;   /* columns of rows */
    double east, north; /* km per degree */
};

static inline void project(const double *row, const struct projection *p, double *x,
                           double *y) {
    *x = row[p->lon] * p->east;
    *y = row[p->lat] * p->north;
}

static inline double squared_km(double x, double y, const double *point) {
    double dx = x - point[0], dy = y - point[1];
    return dx * dx + dy * dy;
}

/*
 * GeoFeatures: the coordinates turned by each angle (cos, sin pairs), the distance to each city,
 * to the nearest coast point, and to each cluster center. points: (n_cities + n_coast +
 * n_clusters, 2) km, in that order.
 */
void geo_columns(double *rows, int64_t n_rows, int64_t stride, const struct projection *p,
                 const double *turns, int64_t n_angles, const double *points, int64_t n_cities,
                 int64_t n_coast, int64_t n_clusters, int64_t at) {
    for (int64_t r = 0; r < n_rows; r++) {
        double *row = rows + r * stride, x, y;
        project(row, p, &x, &y);
        double *out = row + at;
        for (int64_t a = 0; a < n_angles; a++)
            *out++ = x * turns[2 * a] + y * turns[2 * a + 1];
        for (int64_t c = 0; c < n_cities; c++)
            *out++ = sqrt(squared_km(x, y, points + 2 * c));
        double coast = INFINITY;
        for (int64_t c = n_cities; c < n_cities + n_coast; c++) {
            double km = sqrt(squared_km(x, y, points + 2 * c));
            coast = km < coast ? km : coast;
        }
        *out++ = coast;
        for (int64_t c = n_cities + n_coast; c < n_cities + n_coast + n_clusters; c++)
            *out++ = sqrt(squared_km(x, y, points + 2 * c));
    }
}

/*
 * The indexed districts, bucketed in a grid of square cells: cell (i, j) covers x in
 * [x0 + i * cell, x0 + (i + 1) * cell) and y likewise; its districts are order[start[c] ..
 * start[c + 1]) for c = j * nx + i, their coordinates xy (n, 2) and rows of `table` (n, 3: log
 * price, log income, income) in that order too; index holds each one's position in the training
 * set, which breaks ties between equal distances.
 */
struct grid {
    double x0, y0, cell;
    int64_t nx, ny;
    const int64_t *start; /* (nx * ny + 1,) */
    const double *xy;     /* (n, 2) */
    const int64_t *index; /* (n,) */
    const double *table;  /* (n, 3) */
    int64_t n;
};

#define MAX_K 256

/* The best `k` so far, ascending by (squared distance, index). */
struct nearest {
    double d2[MAX_K];
    int64_t index[MAX_K], at[MAX_K];
    int64_t count, k;
};

static inline void consider(struct nearest *best, double d2, int64_t index, int64_t at) {
    int64_t i = best->count;
    if (i == best->k) {
        if (d2 > best->d2[i - 1] || (d2 == best->d2[i - 1] && index > best->index[i - 1]))
            return;
        i--;
    } else {
        best->count++;
    }
    while (i > 0 && (best->d2[i - 1] > d2 || (best->d2[i - 1] == d2 && best->index[i - 1] > index))) {
        best->d2[i] = best->d2[i - 1];
        best->index[i] = best->index[i - 1];
        best->at[i] = best->at[i - 1];
        i--;
    }
    best->d2[i] = d2;
    best->index[i] = index;
    best->at[i] = at;
}

static void scan(const struct grid *g, int64_t from, int64_t to, double x, double y,
                 struct nearest *best) {
    for (int64_t i = from; i < to; i++)
        consider(best, squared_km(x, y, g->xy + 2 * i), g->index[i], i);
}

/* The k nearest indexed districts to (x, y), ties by index: the grid's rings of cells around the
 * query's cell until no unvisited cell can hold a nearer one; a query off the grid scans all. */
static void find_nearest(const struct grid *g, double x, double y, struct nearest *best) {
    best->count = 0;
    double fx = (x - g->x0) / g->cell, fy = (y - g->y0) / g->cell;
    if (!(fx >= 0 && fy >= 0 && fx < (double)g->nx && fy < (double)g->ny)) {
        scan(g, 0, g->n, x, y, best);
        return;
    }
    int64_t cx = (int64_t)fx, cy = (int64_t)fy;
    int64_t rings = g->nx > g->ny ? g->nx : g->ny;
    for (int64_t r = 0; r < rings; r++) {
        int64_t j0 = cy - r, j1 = cy + r;
        for (int64_t j = j0 < 0 ? 0 : j0; j <= j1 && j < g->ny; j++) {
            int64_t edge = j == j0 || j == j1;
            for (int64_t i = cx - r; i <= cx + r; i += edge ? 1 : 2 * r) {
                if (i >= 0 && i < g->nx) {
                    int64_t c = j * g->nx + i;
                    scan(g, g->start[c], g->start[c + 1], x, y, best);
                }
                if (r == 0)
                    break;
            }
        }
        if (cx - r <= 0 && cy - r <= 0 && cx + r >= g->nx - 1 && cy + r >= g->ny - 1)
            return; /* every cell visited */
        if (best->count == best->k) {
            /* Every unvisited district lies outside this square of cells: at least `margin`
             * away. Shrunk by a millionth of a kilometre against rounding in the bounds. */
            double left = x - (g->x0 + (double)(cx - r) * g->cell);
            double right = g->x0 + (double)(cx + r + 1) * g->cell - x;
            double below = y - (g->y0 + (double)(cy - r) * g->cell);
            double above = g->y0 + (double)(cy + r + 1) * g->cell - y;
            double margin = fmin(fmin(left, right), fmin(below, above)) - 1e-6;
            if (margin > 0 && margin * margin > best->d2[best->k - 1])
                return;
        }
    }
}

static void sort_ascending(double *values, int64_t n) {
    for (int64_t i = 1; i < n; i++) {
        double v = values[i];
        int64_t j = i;
        for (; j > 0 && values[j - 1] > v; j--)
            values[j] = values[j - 1];
        values[j] = v;
    }
}

#define N_STATS 6

/*
 * NeighbourFeatures: per k in ks (ascending, at most MAX_K), the neighbours' mean, spread and
 * median log price, mean income, the distance to the k-th, and mean log price less mean log
 * income. Sums run in distance order, as numpy's cumsum does. Returns 0, or -1 when a k is out
 * of range (neighbours.py checks first).
 */
int neighbour_columns(double *rows, int64_t n_rows, int64_t stride, const struct projection *p,
                      const struct grid *g, const int64_t *ks, int64_t n_ks, int64_t at) {
    int64_t kmax = ks[n_ks - 1];
    if (kmax > MAX_K || kmax > g->n || ks[0] < 1)
        return -1;
    struct nearest best = {.k = kmax};
    double ranked[MAX_K];
    for (int64_t r = 0; r < n_rows; r++) {
        double *row = rows + r * stride, x, y;
        project(row, p, &x, &y);
        find_nearest(g, x, y, &best);
        double price = 0, square = 0, log_income = 0, income = 0;
        int64_t done = 0;
        for (int64_t s = 0; s < n_ks; s++) {
            int64_t k = ks[s];
            for (; done < k; done++) {
                const double *t = g->table + 3 * best.at[done];
                price += t[0];
                square += t[0] * t[0];
                log_income += t[1];
                income += t[2];
                ranked[done] = t[0];
            }
            double mean = price / (double)k, spread = square / (double)k - mean * mean;
            double sorted[MAX_K];
            memcpy(sorted, ranked, (size_t)k * sizeof(double));
            sort_ascending(sorted, k);
            double *out = row + at + s * N_STATS;
            out[0] = mean;
            out[1] = sqrt(spread > 0.0 ? spread : 0.0);
            out[2] = (sorted[(k - 1) / 2] + sorted[k / 2]) / 2;
            out[3] = income / (double)k;
            out[4] = sqrt(best.d2[k - 1]);
            out[5] = mean - log_income / (double)k;
        }
    }
    return 0;
}

/*
 * The whole numeric branch in one call (a call from Python costs more than a block's work): the
 * imputation, then each block whose `at` is not negative, each reading the imputed fields only.
 * compiled_blocks.py fills this from the compiled blocks. Returns 0, or -1 as neighbour_columns.
 */
struct branch {
    const double *fill;
    int64_t n_numeric;
    int64_t ratios_at;
    const int64_t *pairs;
    int64_t n_pairs;
    double limit;
    int64_t geo_at;
    const double *turns;
    int64_t n_angles;
    const double *points;
    int64_t n_cities, n_coast, n_clusters;
    int64_t neighbours_at;
    const struct grid *grid;
    const int64_t *ks;
    int64_t n_ks;
    struct projection projection;
};

int branch_rows(const struct branch *b, const double *numeric, int64_t n_rows, double *rows,
                int64_t stride) {
    impute_rows(numeric, n_rows, b->n_numeric, b->fill, rows, stride);
    if (b->ratios_at >= 0)
        ratio_columns(rows, n_rows, stride, b->pairs, b->n_pairs, b->limit, b->ratios_at);
    if (b->geo_at >= 0)
        geo_columns(rows, n_rows, stride, &b->projection, b->turns, b->n_angles, b->points,
                    b->n_cities, b->n_coast, b->n_clusters, b->geo_at);
    if (b->neighbours_at >= 0)
        return neighbour_columns(rows, n_rows, stride, &b->projection, b->grid, b->ks, b->n_ks,
                                 b->neighbours_at);
    return 0;
}
