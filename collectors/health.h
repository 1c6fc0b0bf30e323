/* health: a run's health judged from its series — how learning goes (improving, plateau, overfitting,
 * diverging, at chance, non-finite loss) and since which step, and each layer's problems (non-finite
 * values, dead, exploding or vanishing update ratio, an outlier against its peers). Pure: no I/O, no
 * globals; the caller hands in the points and rows (a paused dashboard its frozen copies), or asks
 * tt_health_run() to read a live run of the store (which allocates its scratch and frees it). */
#ifndef TT_HEALTH_H
#define TT_HEALTH_H

#include <stddef.h>
#include <stdint.h>
#include "series.h"
#include "store.h"

/* How learning goes, least to most severe (the order is the severity). */
typedef enum {
    TT_LEARN_UNKNOWN,          /* too few points to judge, or no loss */
    TT_LEARN_IMPROVING,
    TT_LEARN_PLATEAU,          /* the training loss stopped moving */
    TT_LEARN_OVERFITTING,      /* validation loss rising while the training loss falls */
    TT_LEARN_CHANCE,           /* accuracy no better than guessing */
    TT_LEARN_DIVERGING,        /* the training loss rose well above its low */
    TT_LEARN_NONFINITE,        /* the loss is NaN or infinite */
    TT_LEARN_NSTATES
} tt_learn_state;

/* The thresholds (docs/dashboard.md, "Health"). */
#define TT_HEALTH_MIN_POINTS 6        /* loss points before a trend is judged */
#define TT_HEALTH_DIVERGE 1.5         /* loss above its low by this factor… */
#define TT_HEALTH_RISE_SHARE 0.1      /* …and by this share of the distance it had fallen */
#define TT_HEALTH_OVERFIT 0.05        /* validation loss above its low by this fraction */
#define TT_HEALTH_PLATEAU 0.01        /* relative change of the loss over the recent window */
#define TT_HEALTH_CHANCE_MARGIN 0.12  /* accuracy within this share of (1 - chance) of chance */
#define TT_HEALTH_RATIO_HIGH 0.1      /* update_ratio above: exploding updates */
#define TT_HEALTH_RATIO_LOW 1e-7      /* update_ratio below (gradient not zero): vanishing updates */
#define TT_HEALTH_RATIO_WARMUP 50     /* layer steps before update ratios are judged (zero-initialised biases) */
#define TT_HEALTH_OUTLIER_Z 5.0       /* robust z-score (of log10) against the run's other layers… */
#define TT_HEALTH_OUTLIER_DECADES 1.0 /* …and this many powers of ten from their median */

typedef struct {
    const tt_point *loss;      /* training loss, in step order (tt_series_query buckets) */
    size_t nloss;
    const tt_point *val;       /* validation loss (may be none) */
    size_t nval;
    const tt_point *acc;       /* validation accuracy, else training accuracy (may be none) */
    size_t nacc;
    double chance;             /* accuracy of guessing (1 / classes); NaN: unknown, never judged */
} tt_health_input;

typedef struct {
    tt_learn_state state;
    int64_t since;             /* the step it began; -1 when unknown or improving */
    char why[128];             /* one line in plain words, e.g. "val_loss up 42% from its low at step 350" */
} tt_health_learning;

/* Judges learning from the points. */
void tt_health_learn(const tt_health_input *in, tt_health_learning *out);
/* "improving", "plateau", "overfitting", "at chance", "diverging", "NaN loss", "n/a". */
const char *tt_health_learn_name(tt_learn_state s);
/* Whether the state is a problem a user should look at (overfitting and worse). */
static inline int tt_health_learn_bad(tt_learn_state s) { return s >= TT_LEARN_OVERFITTING; }

/* Layer problems, or-ed; tt_health_layer_name() names the most severe. */
enum {
    TT_LH_NONFINITE = 1u << 0, /* NaN or Inf in the weights, gradients or statistics */
    TT_LH_DEAD = 1u << 1,      /* a zero gradient */
    TT_LH_EXPLODING = 1u << 2, /* update_ratio above TT_HEALTH_RATIO_HIGH */
    TT_LH_VANISHING = 1u << 3, /* update_ratio below TT_HEALTH_RATIO_LOW */
    TT_LH_OUTLIER = 1u << 4,   /* update_ratio or g_rms far from the other layers' */
};
/* "NaN", "dead", "upd>>", "upd<<", "outlier", "" for none. */
const char *tt_health_layer_name(unsigned flags);
/* Severity of a layer's flags (0 none … 5 non-finite), for a problems-first order. */
int tt_health_layer_severity(unsigned flags);

/* Where the statistics the layer judgement reads are in a row (-1: the run does not send it). */
typedef struct {
    int w_norm, g_norm, g_rms, update_ratio, nonfinite;
} tt_health_cols;
/* The columns of the run's statistic names. */
void tt_health_cols_of(const tt_run *r, tt_health_cols *c);

/* Flags every layer from its latest row (rows[l]: the run's statistics in wire order; NULL: no row).
 * layer_step: the latest step that carried layer statistics (update ratios are judged from step
 * TT_HEALTH_RATIO_WARMUP on: the first steps move zero-initialised biases by more than their size). scratch holds 2 × nlayers doubles. Writes flags[0..nlayers) and returns
 * how many layers have a problem. */
int tt_health_layers(const double *const *rows, int nlayers, const tt_health_cols *c, int64_t layer_step, unsigned *flags,
                     double *scratch);

/* A live run of the store, judged: learning from its scalars (loss, val_loss, val_acc or train_acc or
 * acc, the hyperparameter classes / num_classes / n_classes), its layers from their latest rows. */
typedef struct {
    tt_health_learning learn;
    int bad_layers;            /* layers with a problem */
    int worst_layer;           /* the most severe one (-1: none) */
    unsigned worst_flags;
} tt_health;
#define TT_HEALTH_POINTS 64    /* points per series the judgement reads */
/* The run's chance accuracy from its hyperparameters (NaN when it names no class count). */
double tt_health_chance(const tt_run *r);
/* Judges a live run (the collector's summary, traintop ls). -1 when out of memory (out is still set). */
int tt_health_run(const tt_run *r, tt_health *out);

#endif
