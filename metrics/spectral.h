/* spectral: METRICS.md §3, the eigenvalue spectrum λ = σ² of a weight matrix and its power-law tail fit. */
#ifndef TT_SPECTRAL_H
#define TT_SPECTRAL_H

#include <stddef.h>

#define TT_SPECTRAL_ESD_BINS 32   /* bins of the density carried in tt_spectrum_stats */

typedef struct {
    double eig_min;     /* keep λ > eig_min (default 1e-5) */
    size_t min_eigs;    /* fewer kept eigenvalues than this → the fit is NaN (default 50) */
    int windows;        /* also fit the pooled sub-window spectrum (default 1) */
    size_t win_size;    /* b: side of the square windows (default 100; min(rows, cols) when smaller) */
    size_t win_grid;    /* ops: windows per dimension on an evenly spaced grid (default 9) */
} tt_spectral_opts;

void tt_spectral_opts_default(tt_spectral_opts *o);

/* Power-law fit of one spectrum's tail: p(λ) ∝ λ^−α for λ ≥ xmin, xmin chosen by minimum KS distance. */
typedef struct {
    double alpha;           /* α = 1 + n / Σ_{λ≥xmin} ln(λ/xmin) */
    double alpha_err;       /* (α − 1)/sqrt(n_tail) */
    double alpha_weighted;  /* α·log10 λ_max of the fitted spectrum */
    double xmin;            /* chosen x_min (an eigenvalue) */
    double ks;              /* KS distance of the chosen fit */
    double lambda_max;      /* largest eigenvalue of the fitted spectrum */
    size_t n_tail;          /* eigenvalues ≥ xmin */
    size_t n_eig;           /* eigenvalues in the fitted spectrum */
} tt_powerlaw_fit;

typedef struct {
    size_t n_eig;               /* eigenvalues kept (λ > eig_min) */
    double lambda_max;          /* λ_max = σ_max² */
    double lambda_sum;          /* Σλ (kept) */
    double stable_rank;         /* Σλ / λ_max */
    double log_spectral_norm;   /* log10 λ_max */
    double log_norm;            /* log10 Σλ */
    tt_powerlaw_fit fit;        /* tail fit of the whole spectrum */
    tt_powerlaw_fit window;     /* tail fit of the pooled b×b sub-window spectrum (NaN when disabled) */
    /* Eigenvalue density of the kept spectrum: density of log10 λ over [esd_lo, esd_hi] in equal bins
     * (Σ esd·width = 1), esd_lo/hi = log10 of the smallest/largest kept λ (±0.5 when they are equal). */
    double esd_lo, esd_hi;
    double esd[TT_SPECTRAL_ESD_BINS];
} tt_spectrum_stats;

/* Workspace: every buffer one spectrum needs. Sized at create for matrices up to max_rows x max_cols
 * (0, 0 is fine); tt_spectral_compute grows it only when given a larger matrix. Not shareable between
 * threads running at the same time. */
typedef struct tt_spectral_ws tt_spectral_ws;

tt_spectral_ws *tt_spectral_ws_create(size_t max_rows, size_t max_cols, const tt_spectral_opts *o);
void tt_spectral_ws_free(tt_spectral_ws *ws);

/* Spectrum statistics of the rows x cols row-major float32 matrix w. o NULL means the defaults.
 * NaN/Inf anywhere in w, an empty matrix, or a LAPACK failure: every double is NaN, counts 0, returns -1
 * (-2 when the workspace could not grow). A finite matrix returns 0, its fits NaN when too few λ are kept. */
int tt_spectral_compute(const float *w, size_t rows, size_t cols, const tt_spectral_opts *o,
                        tt_spectrum_stats *out, tt_spectral_ws *ws);

/* The kept eigenvalues of the last tt_spectral_compute on ws, ascending (window != 0: the pooled
 * sub-window spectrum). Valid until the next compute on ws. */
const double *tt_spectral_eigenvalues(const tt_spectral_ws *ws, int window, size_t *n);

/* Power-law fit of n eigenvalues sorted ascending, all > 0 and finite. work holds n doubles.
 * Fewer than min_eigs values, or no candidate with a finite α: NaN fields (n_tail 0), returns -1. */
int tt_powerlaw_fit_sorted(const double *lambda, size_t n, size_t min_eigs, double *work,
                           tt_powerlaw_fit *out);

/* Density of log10 λ for a dashboard plot: nbins equal bins on [lo, hi] (log10 units; NaN bounds mean
 * the range of the data, widened by ±0.5 when it is a single value), density[b] = count / (n·width), so
 * Σ density·width = 1. Values outside [lo, hi] and non-positive λ are not counted. Writes the bounds used
 * into *lo_out, *hi_out (may be NULL). Returns the number of values counted. */
size_t tt_spectral_density(const double *lambda, size_t n, double lo, double hi, size_t nbins,
                           double *density, double *lo_out, double *hi_out);

#endif
