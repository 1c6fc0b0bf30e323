/* protocol: the names that go with protocol.h's enums. */
#include "protocol.h"

#include <stddef.h>

const char *const tt_stat_names[TT_STAT_COUNT] = {
    "w_norm", "g_norm", "w_rms", "g_rms", "w_var", "update_norm", "update_ratio",
    "angle", "angle_rows", "gw_cos", "dist_init", "nonfinite",
    "alpha", "alpha_err", "alpha_weighted", "stable_rank", "log_spectral_norm", "log_norm", "alpha_window",
    "gamma_mean", "trace_sigma", "noise_scale", "norm_test", "gsnr", "scale_inv_cos", "eff_step",
};

const char *tt_msg_type_name(tt_msg_type t)
{
    switch (t) {
    case TT_MSG_RUN_START: return "run_start";
    case TT_MSG_STEP: return "step";
    case TT_MSG_RUN_END: return "run_end";
    default: return NULL;
    }
}
