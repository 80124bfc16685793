// CS256 sparse-tile rows times F32 activations (spec: shared/specs/cs256.md §6, "CPU"). One call
// computes one weight row against up to kCs256TokenGroup tokens, so each decoded (value, index)
// chunk is reused for every token of the group (prefill amortizes the index decoding).
#pragma once

#include <hearth/sdk/abi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>

namespace hearth::backend_cpu {

inline constexpr int64_t kCs256TokenGroup = 8;

// Pointers into one CS256 blob (header read; structure checked by check_cs256_structure or the
// format plugin's validate()).
struct Cs256Matrix {
  hearth_cs256_header header{};
  hearth_cs256_layout layout{};
  const unsigned char* base = nullptr;
  int64_t blk_per_row = 0;

  uint32_t row_pointer(int64_t i) const {
    uint32_t v;
    std::memcpy(&v, base + layout.row_pointers + 4 * static_cast<uint64_t>(i), sizeof v);
    return v;
  }
  uint32_t increment(int64_t i, int64_t t) const {
    const auto k = static_cast<uint64_t>(i) * header.blk_offset + static_cast<uint64_t>(t);
    if (!(header.flags & HEARTH_CS256_FLAG_WIDE)) return base[layout.increments + k];
    uint16_t v;
    std::memcpy(&v, base + layout.increments + 2 * k, sizeof v);
    return v;
  }
  float scale(int64_t i) const {
    float v;
    std::memcpy(&v, base + layout.scales + 4 * static_cast<uint64_t>(i), sizeof v);
    return v;
  }
};

// Reads the header at data; false when it is not a CS256 v1 header with a computable layout.
bool cs256_matrix(const void* data, Cs256Matrix& out);

// out[j] = dot(row i, x[j]) for j < n_tok (n_tok <= kCs256TokenGroup). Each x[j] must be
// readable for 256 * blk_per_row floats, or n floats when every index is in range (a valid blob).
void cs256_row_dot(const Cs256Matrix& w, int64_t row, const float* const* x, int64_t n_tok,
                   float* out, bool simd = true);

// The scalar loop, the AVX2+FMA+F16C gather kernel (call only when cpu_has_avx2()) and the
// AVX-512 permute kernel (call only when cpu_has_avx512_vnni()).
void cs256_row_dot_scalar(const Cs256Matrix& w, int64_t row, const float* const* x, int64_t n_tok,
                          float* out);
void cs256_row_dot_avx2(const Cs256Matrix& w, int64_t row, const float* const* x, int64_t n_tok,
                        float* out);
void cs256_row_dot_avx512(const Cs256Matrix& w, int64_t row, const float* const* x, int64_t n_tok,
                          float* out);

// Row `row` as dense floats (8-bit values times the row's scale) into out, which must hold 256 *
// blk_per_row floats: zeros where the row has no entry. Prompts multiply these rows with an F32
// GEMM (cs256_matmul.cpp).
void cs256_expand_row(const Cs256Matrix& w, int64_t row, float* out);

// Activations rounded to F16, for CPUs whose 16-bit permutes pick 32 inputs per instruction: 2-3
// permutes per 32 entries where the F32 kernel needs 8 (1.4-1.6x its speed on one Zen 4 thread,
// docs/formats.md).
//
// x's n floats times 2^e, rounded to nearest F16, into xh (n halves), e chosen so that max |x| 2^e
// lies in [2^14, 2^15): the rounding error is at most 2^-11 of each input, and the scaling keeps
// large and tiny activations out of F16's overflow and subnormals. Returns 2^-e, by which the
// products are multiplied back, or nullopt when x holds an infinity or NaN (the F32 kernels carry
// those as IEEE arithmetic does).
std::optional<float> cs256_halve_activations(const float* x, int64_t n, uint16_t* xh,
                                             bool simd = true);
// That e for a finite max |x| >= 0 (clamped so that 2^e and 2^-e are normal floats).
inline int cs256_activation_exponent(float max) {
  if (max == 0.0f) return 0;
  int ex = 0;
  std::frexp(max, &ex);  // max in [2^(ex-1), 2^ex)
  return std::clamp(15 - ex, -126, 126);
}
std::optional<float> cs256_halve_activations_scalar(const float* x, int64_t n, uint16_t* xh);
std::optional<float> cs256_halve_activations_avx512(const float* x, int64_t n, uint16_t* xh);

// out[j] = dot(row, xh[j]) times unscale[j] (and the row's scale for 8-bit values), for
// j < n_tok <= kCs256TokenGroup: the entries' indices and values are decoded once for the group.
// Each xh[j] must hold 256 * blk_per_row halves (the activations padded with zeros to whole
// tiles). The scalar loop is the reference; the AVX-512 kernel needs cpu_has_avx512_vnni() (for
// AVX-512 BW).
void cs256_row_dot_halves(const Cs256Matrix& w, int64_t row, const uint16_t* const* xh,
                          const float* unscale, int64_t n_tok, float* out, bool simd = true);
void cs256_row_dot_halves_scalar(const Cs256Matrix& w, int64_t row, const uint16_t* const* xh,
                                 const float* unscale, int64_t n_tok, float* out);
void cs256_row_dot_halves_avx512(const Cs256Matrix& w, int64_t row, const uint16_t* const* xh,
                                 const float* unscale, int64_t n_tok, float* out);

}  // namespace hearth::backend_cpu
