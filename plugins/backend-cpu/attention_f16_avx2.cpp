// AVX2 ATTENTION over an F16 cache, one query and the heads that share a KV head
// (attention_f16.hpp). The per-(head, key) loop it replaces widened every key and value row once
// per head and paid a call, a scalar exp and a scalar double add per key: at 2048 cached tokens
// that was 60 % of a TinyLlama decode step.
#include <algorithm>
#include <cmath>
#include <limits>

#include "attention_f16.hpp"
#include "rowwise_simd.hpp"
#include "simd_avx2.hpp"

namespace hearth::backend_cpu {
namespace {

using namespace avx2;

// Keys (or values) widened per block: 32 rows of 64 floats (8 KB) stay in L1 while every head
// of the group reads them.
constexpr int64_t kBlockRows = 32;

HEARTH_AVX2 void widen_rows(const char* base, int64_t stride, const int32_t* index, int64_t n,
                            int64_t head_dim, float* out) {
  for (int64_t r = 0; r < n; ++r) {
    const auto* src = reinterpret_cast<const uint16_t*>(base + index[r] * stride);
    float* dst = out + r * head_dim;
    for (int64_t d = 0; d < head_dim; d += 8)
      _mm256_storeu_ps(dst + d,
                       _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + d))));
  }
}

// Asks for the rows of the next block while this one is scored or summed: a head's rows lie a
// cache slot (every KV head) apart and are read once per step, so neither the hardware prefetcher
// nor a few rows' lookahead hides the memory latency.
HEARTH_AVX2 void prefetch_rows(const char* base, int64_t stride, const int32_t* index, int64_t n,
                               int64_t head_dim) {
  for (int64_t r = 0; r < n; ++r)
    for (int64_t b = 0; b < head_dim * 2; b += 64)
      _mm_prefetch(base + index[r] * stride + b, _MM_HINT_T0);
}

// hsum (simd_avx2.hpp) of eight vectors at once, with the same additions for each:
// ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7])). Lane k of the result is
// hsum(s[k]).
HEARTH_AVX2 inline __m256 hsum8(const __m256 (&s)[8]) {
  __m256 r[4];  // r[p]: s[2p]'s low half + its high half in lanes 0-3, s[2p + 1]'s in 4-7
  for (int p = 0; p < 4; ++p)
    r[p] = _mm256_add_ps(_mm256_permute2f128_ps(s[2 * p], s[2 * p + 1], 0x20),
                         _mm256_permute2f128_ps(s[2 * p], s[2 * p + 1], 0x31));
  // (x0, x1) = (r0 + r2, r1 + r3) of vectors 0, 2 | 1, 3 (and 4, 6 | 5, 7).
  const __m256 x01 =
      _mm256_add_ps(_mm256_shuffle_ps(r[0], r[1], 0x44), _mm256_shuffle_ps(r[0], r[1], 0xEE));
  const __m256 x23 =
      _mm256_add_ps(_mm256_shuffle_ps(r[2], r[3], 0x44), _mm256_shuffle_ps(r[2], r[3], 0xEE));
  // x0 + x1: vectors 0, 2, 4, 6 | 1, 3, 5, 7.
  const __m256 sums =
      _mm256_add_ps(_mm256_shuffle_ps(x01, x23, 0x88), _mm256_shuffle_ps(x01, x23, 0xDD));
  return _mm256_permutevar8x32_ps(sums, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// dot_lanes for head_dim 64 (Llama, Mistral, Qwen's small models) with the query in eight
// registers, so each key costs its own eight loads only; the same operations in the same order.
HEARTH_AVX2 inline __m256 dot_lanes_64(const float* k, const __m256 (&q)[8]) {
  __m256 acc[4];
  for (int c = 0; c < 4; ++c)
    acc[c] = _mm256_fmadd_ps(_mm256_loadu_ps(k + 8 * c), q[c], _mm256_setzero_ps());
  for (int c = 0; c < 4; ++c)
    acc[c] = _mm256_fmadd_ps(_mm256_loadu_ps(k + 32 + 8 * c), q[4 + c], acc[c]);
  return _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
}

// p[r] = hsum(dot_lanes(row r, q)) * scale for n rows, eight at a time (the rows are widened
// F16 keys: the conversion is exact, so the products are dot_f16_avx2's).
HEARTH_AVX2 void score_rows_64(const float* rows, int64_t n, const float* q, float scale,
                               float* p) {
  __m256 qv[8];
  for (int c = 0; c < 8; ++c) qv[c] = _mm256_loadu_ps(q + 8 * c);
  const __m256 vscale = _mm256_set1_ps(scale);
  int64_t r = 0;
  for (; r + 8 <= n; r += 8) {
    __m256 lanes[8];
    for (int k = 0; k < 8; ++k) lanes[k] = dot_lanes_64(rows + (r + k) * 64, qv);
    _mm256_storeu_ps(p + r, _mm256_mul_ps(hsum8(lanes), vscale));
  }
  for (; r < n; ++r) p[r] = hsum(dot_lanes_64(rows + r * 64, qv)) * scale;
}

HEARTH_AVX2 void score_rows(const float* rows, int64_t n, const float* q, int64_t dim, float scale,
                            float* p) {
  if (dim == 64) return score_rows_64(rows, n, q, scale, p);
  const __m256 vscale = _mm256_set1_ps(scale);
  int64_t r = 0;
  for (; r + 8 <= n; r += 8) {
    __m256 lanes[8];
    for (int k = 0; k < 8; ++k)
      lanes[k] = dot_lanes<float, load_f32x8>(rows + (r + k) * dim, q, dim);
    _mm256_storeu_ps(p + r, _mm256_mul_ps(hsum8(lanes), vscale));
  }
  for (; r < n; ++r) p[r] = hsum(dot_lanes<float, load_f32x8>(rows + r * dim, q, dim)) * scale;
}

// out += p[r] * rows[r] for r in order, C vectors of out at a time: each element's additions
// form one dependent chain, so C independent chains per key keep the adder busy (one chain per
// key would wait out the add's latency every time).
template <int C>
HEARTH_AVX2 void accumulate_values(const float* p, int64_t n_rows, const float* rows, int64_t dim,
                                   float* out) {
  for (int64_t d0 = 0; d0 < dim; d0 += 8 * C) {
    __m256 acc[C];
    for (int c = 0; c < C; ++c) acc[c] = _mm256_loadu_ps(out + d0 + 8 * c);
    for (int64_t r = 0; r < n_rows; ++r) {
      if (p[r] == 0.0f) continue;
      const __m256 pv = _mm256_set1_ps(p[r]);
      const float* v = rows + r * dim + d0;
      for (int c = 0; c < C; ++c)
        acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(pv, _mm256_loadu_ps(v + 8 * c)));
    }
    for (int c = 0; c < C; ++c) _mm256_storeu_ps(out + d0 + 8 * c, acc[c]);
  }
}

// The largest of n >= 1 floats (order does not change a maximum).
HEARTH_AVX2 float max_of(const float* p, int64_t n) {
  float max = -std::numeric_limits<float>::infinity();
  int64_t j = 0;
  if (n >= 8) {
    __m256 m = _mm256_loadu_ps(p);
    for (j = 8; j + 8 <= n; j += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(p + j));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, m);
    for (float x : lanes) max = std::max(max, x);
  }
  for (; j < n; ++j) max = std::max(max, p[j]);
  return max;
}

}  // namespace

HEARTH_AVX2 void attend_f16_heads_avx2(const F16HeadGroup& g, F16AttentionScratch& s) {
  const int64_t dim = g.head_dim;
  const int64_t n = g.n_visible;
  for (int h = 0; h < g.n_heads; ++h) std::fill(g.out[h], g.out[h] + dim, 0.0f);
  if (n == 0) return;  // a query that sees no key gets zeros rather than NaN
  s.q16.resize(static_cast<size_t>(g.n_heads * dim));
  s.probs.resize(static_cast<size_t>(g.n_heads * n));
  s.rows.resize(static_cast<size_t>(kBlockRows * dim));
  for (int h = 0; h < g.n_heads; ++h) round_to_f16_avx2(g.q[h], s.q16.data() + h * dim, dim);

  // Scores, a block of keys at a time.
  for (int64_t j0 = 0; j0 < n; j0 += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, n - j0);
    widen_rows(g.k, g.k_stride, g.visible + j0, rows, dim, s.rows.data());
    prefetch_rows(g.k, g.k_stride, g.visible + j0 + rows, std::min(kBlockRows, n - j0 - rows), dim);
    for (int h = 0; h < g.n_heads; ++h) {
      const float* q = s.q16.data() + h * dim;
      score_rows(s.rows.data(), rows, q, dim, g.scale, s.probs.data() + h * n + j0);
    }
  }

  // Softmax per head; each probability normalized, then rounded to F16.
  prefetch_rows(g.v, g.v_stride, g.visible, std::min(kBlockRows, n), dim);
  for (int h = 0; h < g.n_heads; ++h) {
    float* p = s.probs.data() + h * n;
    const float max = max_of(p, n);
    const float inv = static_cast<float>(1.0 / softmax_exp(p, n, max));
    int64_t j = 0;
    const __m256 vinv = _mm256_set1_ps(inv);
    for (; j + 8 <= n; j += 8)
      _mm256_storeu_ps(p + j,
                       _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(p + j), vinv),
                                                       _MM_FROUND_TO_NEAREST_INT)));
    for (; j < n; ++j) p[j] = round_to_f16_avx2(p[j] * inv);
  }

  // Values: out + p * v in key order per element (the reference's axpy), zeros skipped.
  const auto accumulate = dim % 64 == 0   ? accumulate_values<8>
                          : dim % 32 == 0 ? accumulate_values<4>
                                          : accumulate_values<1>;
  for (int64_t j0 = 0; j0 < n; j0 += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, n - j0);
    widen_rows(g.v, g.v_stride, g.visible + j0, rows, dim, s.rows.data());
    prefetch_rows(g.v, g.v_stride, g.visible + j0 + rows, std::min(kBlockRows, n - j0 - rows), dim);
    for (int h = 0; h < g.n_heads; ++h)
      accumulate(s.probs.data() + h * n + j0, rows, s.rows.data(), dim, g.out[h]);
  }
}

}  // namespace hearth::backend_cpu
