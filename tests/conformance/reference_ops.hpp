// Plain scalar reference implementations of the backend ops defined in
// sdk/include/hearth/sdk/abi.h, written from that contract and ../shared/specs/gguf.md (not from
// any backend's code). They compute in double and return, per output element, the tolerance a
// correct F32 implementation must meet. Every bound is derived in the comment of its function; u =
// 2^-24 is the unit roundoff of float.
//
// Arrays are dense in ggml order: element (i0, i1, i2, i3) is at i0 + ne0 * (i1 + ne1 * (i2 + ne2 *
// i3)).
#pragma once

#include <hearth/sdk/abi.h>

#include <array>
#include <cstdint>
#include <vector>

namespace hearth::conformance {

using Shape = std::array<int64_t, 4>;

inline int64_t element_count(const Shape& s) { return s[0] * s[1] * s[2] * s[3]; }

struct Expected {
  std::vector<double> value;
  std::vector<double> tolerance;  // per element; 0 means bit-exact
};

// Weights in storage form: n_out rows of n_in elements of dtype, rows back to back.
struct WeightMatrix {
  hearth_dtype dtype = HEARTH_DTYPE_F32;
  int64_t n_in = 0;
  int64_t n_out = 0;
  std::vector<uint8_t> bytes;
  int64_t row_bytes() const;
};

// Bytes one row of n elements of dtype takes (F32, F16, BF16, Q8_0, Q4_0, Q5_0, K-quants).
int64_t row_bytes(hearth_dtype dtype, int64_t n);

// Decoders written from the IEEE and gguf.md definitions.
double fp16_value(uint16_t bits);
double bf16_value(uint16_t bits);
std::vector<double> dequantize_row(hearth_dtype dtype, const uint8_t* row, int64_t n);

// Exact: conversions and d * q products are exact in float.
Expected embedding(const WeightMatrix& table, const std::vector<int32_t>& ids);

// y = x / sqrt(mean(x^2) + eps) * w. Tolerance |y| (n + 16) u: summing n squares in float, plus
// a handful of roundings for mean, sqrt, divide and the two multiplies.
Expected rms_norm(const std::vector<float>& x, const Shape& shape, const std::vector<float>* weight,
                  float eps);

// dst[o, t] = sum_i W[o, i] x[i, t] with W dequantized exactly. Tolerance, with S = sum |W x|:
//   S (n_in + 4) u: any summation order in float;
//   + sum_i |W[o,i]| |x_i - r(x_i)|: a backend may round activations to the weight's dot type as
//     llama.cpp does (F16 -> F16, BF16 -> BF16, Q8_0/Q4_0/Q5_0 -> Q8_0 blocks, K-quants -> Q8_K).
//     For Q8_0 blocks this term is taken 1.1 times, plus one quantization step d_b of the largest
//     |W| term, since a backend may round a value that sits exactly between two steps the other
//     way.
Expected matmul(const WeightMatrix& w, const std::vector<float>& x, int64_t n_tok);

struct RopeParams {
  int n_rot = 0;
  int mode = HEARTH_ROPE_NORM;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;
  const std::vector<float>* factors = nullptr;  // n_rot / 2 entries, or null
};
// x [head_dim, n_heads, n_tok]. Angle of pair i at position p: p * freq_scale * base^(-2i/n_rot)
// / ff_i. Tolerance (|x_a| + |x_b|) (|angle| e_i + 4 u) where e_i = (i + 4)(2 + |ln base|) 2u
// bounds the relative error of an angle computed in float, ggml-style, by repeated
// multiplication with a rounded base^(-2/n_rot) (the |ln base| term: rounding -2/n_rot).
Expected rope(const std::vector<float>& x, const Shape& shape,
              const std::vector<int32_t>& positions, const RopeParams& params);

struct AttentionShape {
  int64_t head_dim = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_q = 0;
  int64_t n_kv = 0;
};
// Causal (key j visible to query i iff pos_k[j] <= pos_q[i]) softmax(q k^T scale) v; a query
// that sees no key gives zeros. Tolerance per output element d:
//   sum_j p_j |v_jd| (2.5 ds + (2 n_kv + 8) u) + u max|v|, with ds = max_j (head_dim + 2) u
//   |scale| sum |q k_j| the float error of a score (a logit error ds moves each p_j by at most a
//   factor e^(2 ds)), and the rest from exp, the normalising sum and the weighted sum.
Expected attention(const std::vector<float>& q, const std::vector<float>& k,
                   const std::vector<float>& v, const std::vector<int32_t>& pos_q,
                   const std::vector<int32_t>& pos_k, const AttentionShape& shape, float scale);

// ATTENTION over an F16 cache (abi.h): k and v hold F16 values (given here exactly, as floats);
// q is rounded to F16 before the scores and each probability p_j to F16 before p v. Value:
// sum_j r16(p_j) v_jd with p_j exact. Tolerance per output element d, with the score error ds
// as in attention() (over the rounded q):
//   sum_j |v_jd| (w_j + r16(p_j) (n_kv + 2) u) + u max|v|, where a float p_j may be off by
//   e_j = p_j (2.5 ds + (n_kv + 8) u) before its rounding, so r16 of it lies in
//   [r16(p_j - e_j), r16(p_j + e_j)] and w_j is that interval's widest distance from r16(p_j)
//   (zero unless p_j sits within e_j of a rounding boundary); the rest is the F32 sum of products.
Expected attention_f16_kv(const std::vector<float>& q, const std::vector<float>& k16,
                          const std::vector<float>& v16, const std::vector<int32_t>& pos_q,
                          const std::vector<int32_t>& pos_k, const AttentionShape& shape,
                          float scale);

// Rounding to nearest, ties to even, written from IEEE 754 (not from any converter): x (a float,
// F16 or BF16 value) rounded to F16 or BF16 (10 / 7 fraction bits, subnormals, overflow to
// infinity); F32 returns x. NaN stays NaN.
double round_to_dtype(double x, hearth_dtype dtype);

// COPY: each element of src (values of the source dtype) converted to dst_dtype. Exact: rounding
// to nearest even is defined bit for bit, and widening is exact.
Expected copy(const std::vector<double>& src, hearth_dtype dst_dtype);

// silu(x) * g. Tolerance |y| 16 u + 1e-35 (exp and the divide; the floor for results that
// underflow).
Expected swiglu(const std::vector<float>& x, const std::vector<float>& g);

// a + b or a * b with b broadcast where its ne is 1. Exact: one correctly rounded float op,
// so a backend must give fl(a op b) bit for bit.
Expected add(const std::vector<float>& a, const Shape& a_shape, const std::vector<float>& b,
             const Shape& b_shape);
Expected mul(const std::vector<float>& a, const Shape& a_shape, const std::vector<float>& b,
             const Shape& b_shape);

// Per row of n: softmax(scale x). Tolerance p_i (4 D + (n + 8) u) + 1e-38, with
// D = u max_j (|scale x_j| + |scale x_j - max|) the float error of an exponent.
Expected softmax(const std::vector<float>& x, const Shape& shape, float scale);

}  // namespace hearth::conformance
