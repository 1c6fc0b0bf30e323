/* angle: the stable angle between two vectors from their norms and the norm of their difference, and
 * the guarded division of the §1 ratios — one definition for the CPU pass (metrics/layerstats.c), the
 * GPU kernels (probes/cuda) and their host tests. Header-only: nvcc compiles it __host__ __device__. */
#ifndef TT_ANGLE_H
#define TT_ANGLE_H

#include <math.h>

#ifdef __CUDACC__
#define TT_HD static __host__ __device__ __forceinline__
#else
#define TT_HD static inline
#endif

/* The angle between a and b from ‖a‖, ‖b‖, ‖a − b‖; NaN when a norm is 0 or anything is not finite.
 * ‖â − b̂‖² = (‖a−b‖² − (‖a‖−‖b‖)²) / (‖a‖‖b‖) and angle = 2·asin(‖â − b̂‖/2): accurate for tiny angles,
 * where acos of the cosine loses half the digits. */
TT_HD double tt_angle_inline(double na, double nb, double ndiff)
{
    if (!(na > 0) || !(nb > 0) || !isfinite(na) || !isfinite(nb) || !isfinite(ndiff))
        return NAN;
    double dn = na - nb;
    double chord2 = (ndiff * ndiff - dn * dn) / (na * nb);
    if (chord2 < 0) chord2 = 0;
    double c = sqrt(chord2);
    /* 2·asin(c/2) = c + c³/24 + 3c⁵/640 + …: the series is exact to 1e-16 below c = 1e-3, and asin
     * costs more than the rest of a short row */
    if (c < 1e-3) return c * (1 + chord2 / 24);
    double half = c / 2;
    if (half > 1) half = 1;
    return 2 * asin(half);
}

/* a / b, NaN when b is 0 or either is not finite. */
TT_HD double tt_safe_div_inline(double a, double b)
{
    return (b != 0 && isfinite(a) && isfinite(b)) ? a / b : NAN;
}

#endif
