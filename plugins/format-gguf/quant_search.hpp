// The scale searches behind ggml's quantizers (ggml-quants.c), with ggml's names so the two can
// be read side by side. Every expression keeps ggml's float evaluation order; the quantized bytes
// depend on it.
#pragma once

#include <cstdint>
#include <cstring>

namespace hearth::format_gguf {

// Scale groups whose largest |x| is below this are stored as all zeros (ggml's GROUP_MAX_EPS).
inline constexpr float kGroupMaxEps = 1e-15f;

// Round to nearest (ties to even) by the 1.5 * 2^23 trick ggml uses. Exact for |fval| <= 4194303;
// outside that range the result is meaningless but well defined (no UB), as in ggml.
inline int nearest_int(float fval) {
  const float val = fval + 12582912.f;
  int32_t i;
  std::memcpy(&i, &val, sizeof(i));
  return (i & 0x007fffff) - 0x00400000;
}

// C's float -> integer conversion (truncation) for values in range. ggml converts directly,
// which is undefined behaviour when a degenerate scale (e.g. 1/subnormal = inf) pushes the value
// out of range; here such values saturate (NaN gives 0) so hostile inputs cannot trigger UB.
inline int trunc_to_int(float v) {
  if (v != v) return 0;
  if (v >= 2147483647.f) return 2147483647;
  if (v <= -2147483648.f) return -2147483647 - 1;
  return static_cast<int>(v);
}

// Symmetric levels -nmax..nmax-1 (stored +nmax in L) with a scale search. rmse_type selects the
// error weights when qw is null: 1 = x^2, 2 = 1, 3 = |x|, else sqrt|x|; 0 = no search; a
// negative value stops after the first least-squares refinement.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw);

// Q3_K's symmetric search (levels -nmax..nmax-1, stored +nmax) with coordinate-descent refinement
// of single levels when do_rmse.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse);

// Affine levels 0..nmax: returns the scale and sets the_min to -min (>= 0), searching nstep + 1
// candidate scales (rmin + rdelta * is + nmax) / (max - min) by weighted absolute (use_mad) or
// squared error.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad);

// make_qkx2_quants with optional weights (null means x^2), used with an importance matrix.
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad);

// Non-negative levels 0..nmax for the super-block scales of the importance-weighted K-quants.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights);

}  // namespace hearth::format_gguf
