#include "reference_ops.hpp"

#include <hearth/sdk/half.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace hearth::conformance {
namespace {

constexpr double kU = 1.0 / (1 << 24);  // float unit roundoff
constexpr int64_t kBlock = 32;
constexpr int64_t kSuperBlock = 256;  // K-quants

bool is_k_quant(hearth_dtype dtype) {
  return dtype == HEARTH_DTYPE_Q4_K || dtype == HEARTH_DTYPE_Q5_K || dtype == HEARTH_DTYPE_Q6_K;
}

// Q4_K / Q5_K: the 6-bit scale and min of sub-block s from the 12 packed bytes q (gguf.md §4.3).
void k4_scale_min(const uint8_t* q, int s, int& sc, int& mn) {
  if (s < 4) {
    sc = q[s] & 63;
    mn = q[s + 4] & 63;
  } else {
    sc = (q[s + 4] & 0x0F) | ((q[s - 4] >> 6) << 4);
    mn = (q[s + 4] >> 4) | ((q[s] >> 6) << 4);
  }
}

uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// What llama.cpp's dot products round an activation block to before multiplying.
std::vector<double> rounded_activations(hearth_dtype weight_dtype, const float* x, int64_t n) {
  std::vector<double> r(static_cast<size_t>(n));
  switch (weight_dtype) {
    case HEARTH_DTYPE_F16:
      for (int64_t i = 0; i < n; ++i) r[i] = fp16_value(sdk::fp32_to_fp16(x[i]));
      break;
    case HEARTH_DTYPE_BF16:
      for (int64_t i = 0; i < n; ++i) r[i] = bf16_value(sdk::fp32_to_bf16(x[i]));
      break;
    case HEARTH_DTYPE_Q8_0:
    case HEARTH_DTYPE_Q4_0:
    case HEARTH_DTYPE_Q5_0:
      // ggml's quantize_row_q8_0_ref: d = amax / 127 stored as f16, q = roundf(x / d).
      for (int64_t b = 0; b < n / kBlock; ++b) {
        float amax = 0.0f;
        for (int64_t j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(x[b * kBlock + j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        const double stored_d = fp16_value(sdk::fp32_to_fp16(d));
        for (int64_t j = 0; j < kBlock; ++j)
          r[b * kBlock + j] = std::round(x[b * kBlock + j] * id) * stored_d;
      }
      break;
    case HEARTH_DTYPE_Q4_K:
    case HEARTH_DTYPE_Q5_K:
    case HEARTH_DTYPE_Q6_K:
      // ggml's quantize_row_q8_K_ref: d = max / -127 (float) with max the signed value of
      // largest magnitude, q = nearest (half to even) of x / d, at most 127.
      for (int64_t b = 0; b < n / kSuperBlock; ++b) {
        const float* xb = x + b * kSuperBlock;
        float max = 0.0f, amax = 0.0f;
        for (int64_t j = 0; j < kSuperBlock; ++j)
          if (std::fabs(xb[j]) > amax) amax = std::fabs(xb[j]), max = xb[j];
        const float iscale = amax != 0.0f ? -127.0f / max : 0.0f;
        const double d = amax != 0.0f ? static_cast<double>(1.0f / iscale) : 0.0;
        for (int64_t j = 0; j < kSuperBlock; ++j)
          r[b * kSuperBlock + j] =
              std::min(127.0, static_cast<double>(std::nearbyint(iscale * xb[j]))) * d;
      }
      break;
    default:
      for (int64_t i = 0; i < n; ++i) r[i] = x[i];
  }
  return r;
}

Expected exact(std::vector<double> values) {
  Expected e;
  e.tolerance.assign(values.size(), 0.0);
  e.value = std::move(values);
  return e;
}

int64_t broadcast_index(const Shape& a, const Shape& b, int64_t flat) {
  const int64_t i0 = flat % a[0];
  const int64_t i1 = (flat / a[0]) % a[1];
  const int64_t i2 = (flat / (a[0] * a[1])) % a[2];
  const int64_t i3 = flat / (a[0] * a[1] * a[2]);
  return i0 + b[0] * ((i1 % b[1]) + b[1] * ((i2 % b[2]) + b[2] * (i3 % b[3])));
}

template <class Op>
Expected binary(const std::vector<float>& a, const Shape& a_shape, const std::vector<float>& b,
                const Shape& b_shape, Op op) {
  std::vector<double> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const double exact_result =
        op(static_cast<double>(a[i]), static_cast<double>(b[broadcast_index(a_shape, b_shape, i)]));
    // Double has more than 2 * 24 + 2 bits, so rounding the double result to float gives the
    // correctly rounded float result.
    out[i] = static_cast<float>(exact_result);
  }
  return exact(std::move(out));
}

}  // namespace

int64_t row_bytes(hearth_dtype dtype, int64_t n) {
  switch (dtype) {
    case HEARTH_DTYPE_F32:
      return 4 * n;
    case HEARTH_DTYPE_F16:
    case HEARTH_DTYPE_BF16:
      return 2 * n;
    case HEARTH_DTYPE_Q8_0:
      return n / kBlock * 34;
    case HEARTH_DTYPE_Q4_0:
      return n / kBlock * 18;
    case HEARTH_DTYPE_Q5_0:
      return n / kBlock * 22;
    case HEARTH_DTYPE_Q4_K:
      return n / kSuperBlock * 144;
    case HEARTH_DTYPE_Q5_K:
      return n / kSuperBlock * 176;
    case HEARTH_DTYPE_Q6_K:
      return n / kSuperBlock * 210;
    default:
      throw std::invalid_argument("reference: no layout for dtype " + std::to_string(dtype));
  }
}

int64_t WeightMatrix::row_bytes() const { return conformance::row_bytes(dtype, n_in); }

double fp16_value(uint16_t bits) {
  const double sign = (bits & 0x8000u) ? -1.0 : 1.0;
  const int exponent = (bits >> 10) & 0x1F;
  const int mantissa = bits & 0x3FF;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31)
    return mantissa ? std::numeric_limits<double>::quiet_NaN()
                    : sign * std::numeric_limits<double>::infinity();
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

double bf16_value(uint16_t bits) {
  const double sign = (bits & 0x8000u) ? -1.0 : 1.0;
  const int exponent = (bits >> 7) & 0xFF;
  const int mantissa = bits & 0x7F;
  if (exponent == 0) return sign * std::ldexp(mantissa, -133);
  if (exponent == 255)
    return mantissa ? std::numeric_limits<double>::quiet_NaN()
                    : sign * std::numeric_limits<double>::infinity();
  return sign * std::ldexp(128 + mantissa, exponent - 134);
}

std::vector<double> dequantize_row(hearth_dtype dtype, const uint8_t* row, int64_t n) {
  std::vector<double> out(static_cast<size_t>(n));
  switch (dtype) {
    case HEARTH_DTYPE_F32:
      for (int64_t i = 0; i < n; ++i) {
        float f;
        std::copy(row + 4 * i, row + 4 * i + 4, reinterpret_cast<uint8_t*>(&f));
        out[i] = f;
      }
      break;
    case HEARTH_DTYPE_F16:
      for (int64_t i = 0; i < n; ++i) out[i] = fp16_value(load_u16(row + 2 * i));
      break;
    case HEARTH_DTYPE_BF16:
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_value(load_u16(row + 2 * i));
      break;
    case HEARTH_DTYPE_Q8_0:  // d (f16) then 32 int8 quants; value = q * d
      for (int64_t b = 0; b < n / kBlock; ++b) {
        const uint8_t* block = row + b * 34;
        const double d = fp16_value(load_u16(block));
        for (int64_t j = 0; j < kBlock; ++j)
          out[b * kBlock + j] = static_cast<int8_t>(block[2 + j]) * d;
      }
      break;
    case HEARTH_DTYPE_Q4_0:  // d (f16) then 16 bytes: element j low nibble, j + 16 high; (q - 8) d
      for (int64_t b = 0; b < n / kBlock; ++b) {
        const uint8_t* block = row + b * 18;
        const double d = fp16_value(load_u16(block));
        for (int64_t j = 0; j < kBlock; ++j) {
          const uint8_t byte = block[2 + j % 16];
          const int q = j < 16 ? (byte & 0x0F) : (byte >> 4);
          out[b * kBlock + j] = (q - 8) * d;
        }
      }
      break;
    case HEARTH_DTYPE_Q5_0:  // d (f16), qh (u32), 16 bytes as Q4_0; bit j of qh is bit 4 of q_j
      for (int64_t b = 0; b < n / kBlock; ++b) {
        const uint8_t* block = row + b * 22;
        const double d = fp16_value(load_u16(block));
        const uint32_t qh = static_cast<uint32_t>(block[2]) | static_cast<uint32_t>(block[3]) << 8 |
                            static_cast<uint32_t>(block[4]) << 16 |
                            static_cast<uint32_t>(block[5]) << 24;
        for (int64_t j = 0; j < kBlock; ++j) {
          const uint8_t byte = block[6 + j % 16];
          const int low = j < 16 ? (byte & 0x0F) : (byte >> 4);
          const int q = low | static_cast<int>((qh >> j) & 1u) << 4;
          out[b * kBlock + j] = (q - 16) * d;
        }
      }
      break;
    case HEARTH_DTYPE_Q4_K:    // d, dmin, scales[12], qs[128]: d sc q - dmin mn
    case HEARTH_DTYPE_Q5_K: {  // d, dmin, scales[12], qh[32], qs[128]: q gains bit 2c+t of qh[l]
      const bool q5 = dtype == HEARTH_DTYPE_Q5_K;
      for (int64_t b = 0; b < n / kSuperBlock; ++b) {
        const uint8_t* block = row + b * (q5 ? 176 : 144);
        const double d = fp16_value(load_u16(block));
        const double dmin = fp16_value(load_u16(block + 2));
        for (int e = 0; e < kSuperBlock; ++e) {  // e = 64c + 32t + l
          const int c = e / 64, t = (e / 32) % 2, l = e % 32;
          const uint8_t byte = block[(q5 ? 48 : 16) + 32 * c + l];
          int q = t == 0 ? (byte & 0x0F) : (byte >> 4);
          if (q5) q += 16 * ((block[16 + l] >> (2 * c + t)) & 1);
          int sc, mn;
          k4_scale_min(block + 4, 2 * c + t, sc, mn);
          out[b * kSuperBlock + e] = d * sc * q - dmin * mn;
        }
      }
      break;
    }
    case HEARTH_DTYPE_Q6_K:  // ql[128], qh[64], scales[16] (int8), d: d scales[e/16] (q - 32)
      for (int64_t b = 0; b < n / kSuperBlock; ++b) {
        const uint8_t* block = row + b * 210;
        const double d = fp16_value(load_u16(block + 208));
        for (int e = 0; e < kSuperBlock; ++e) {  // e = 128h + 32k + l
          const int h = e / 128, k = (e / 32) % 4, l = e % 32;
          const uint8_t low_byte = block[64 * h + (k % 2) * 32 + l];
          const int low = k < 2 ? (low_byte & 0x0F) : (low_byte >> 4);
          const int high = (block[128 + 32 * h + l] >> (2 * k)) & 3;
          out[b * kSuperBlock + e] =
              d * static_cast<int8_t>(block[192 + e / 16]) * ((low | (high << 4)) - 32);
        }
      }
      break;
    default:
      throw std::invalid_argument("reference: cannot dequantize dtype " + std::to_string(dtype));
  }
  return out;
}

Expected embedding(const WeightMatrix& table, const std::vector<int32_t>& ids) {
  std::vector<double> out;
  for (int32_t id : ids) {
    const auto row =
        dequantize_row(table.dtype, table.bytes.data() + id * table.row_bytes(), table.n_in);
    out.insert(out.end(), row.begin(), row.end());
  }
  return exact(std::move(out));
}

Expected rms_norm(const std::vector<float>& x, const Shape& shape, const std::vector<float>* weight,
                  float eps) {
  const int64_t n = shape[0];
  Expected e;
  e.value.assign(x.size(), 0.0);
  e.tolerance.assign(x.size(), 0.0);
  for (int64_t r = 0; r < element_count(shape) / std::max<int64_t>(n, 1); ++r) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[r * n + i]) * x[r * n + i];
    const double scale = 1.0 / std::sqrt(sum / static_cast<double>(n) + static_cast<double>(eps));
    for (int64_t i = 0; i < n; ++i) {
      const double y = x[r * n + i] * scale * (weight ? (*weight)[i] : 1.0);
      e.value[r * n + i] = y;
      e.tolerance[r * n + i] = std::fabs(y) * static_cast<double>(n + 16) * kU;
    }
  }
  return e;
}

Expected matmul(const WeightMatrix& w, const std::vector<float>& x, int64_t n_tok) {
  const int64_t n_in = w.n_in;
  Expected e;
  e.value.resize(static_cast<size_t>(w.n_out * n_tok));
  e.tolerance.resize(e.value.size());
  std::vector<std::vector<double>> rows;
  for (int64_t o = 0; o < w.n_out; ++o)
    rows.push_back(dequantize_row(w.dtype, w.bytes.data() + o * w.row_bytes(), n_in));
  const bool block_activations = w.dtype == HEARTH_DTYPE_Q8_0 || w.dtype == HEARTH_DTYPE_Q4_0 ||
                                 w.dtype == HEARTH_DTYPE_Q5_0 || is_k_quant(w.dtype);
  const int64_t act_block = is_k_quant(w.dtype) ? kSuperBlock : kBlock;  // Q8_K or Q8_0 blocks
  // With two or more tokens a GPU backend may take a GEMM route instead (cuBLAS, as llama.cpp's
  // prompt path): the block weight decoded to F16 and the activations rounded to F16, products
  // exact in F32, F32 accumulation. That adds |w|·|x - f16(x)| + |w - f16(w)|·|f16(x)| per term
  // to the block-activation error. F16, BF16 and F32 weights round their activations there as
  // in the dot products, which `rounding` already covers.
  const bool half_gemm = block_activations && n_tok >= 2;
  for (int64_t t = 0; t < n_tok; ++t) {
    const float* xt = x.data() + t * n_in;
    const auto rounded = rounded_activations(w.dtype, xt, n_in);
    for (int64_t o = 0; o < w.n_out; ++o) {
      double sum = 0.0, magnitude = 0.0, rounding = 0.0, largest_step = 0.0, half_rounding = 0.0;
      for (int64_t i = 0; i < n_in; ++i) {
        const double wi = rows[o][i];
        sum += wi * xt[i];
        magnitude += std::fabs(wi * xt[i]);
        rounding += std::fabs(wi) * std::fabs(xt[i] - rounded[i]);
        if (half_gemm) {
          const double xh = fp16_value(sdk::fp32_to_fp16(xt[i]));
          const double wh = fp16_value(sdk::fp32_to_fp16(static_cast<float>(wi)));
          half_rounding +=
              std::fabs(wi) * std::fabs(xt[i] - xh) + std::fabs(wi - wh) * std::fabs(xh);
        }
        if (block_activations) {
          float amax = 0.0f;
          for (int64_t j = i / act_block * act_block; j < (i / act_block + 1) * act_block; ++j)
            amax = std::max(amax, std::fabs(xt[j]));
          largest_step = std::max(largest_step, std::fabs(wi) * amax / 127.0);
        }
      }
      e.value[t * w.n_out + o] = sum;
      e.tolerance[t * w.n_out + o] =
          magnitude * static_cast<double>(n_in + 4) * kU +
          (block_activations ? 1.1 * rounding + largest_step + half_rounding : rounding);
    }
  }
  return e;
}

Expected rope(const std::vector<float>& x, const Shape& shape,
              const std::vector<int32_t>& positions, const RopeParams& params) {
  const int64_t head_dim = shape[0];
  const int64_t n_heads = shape[1];
  const int64_t n_tok = shape[2];
  const int64_t half = params.n_rot / 2;
  const double base = params.freq_base;
  const double angle_error_per_step = (2.0 + std::fabs(std::log(base))) * 2.0 * kU;
  Expected e;
  e.value.assign(x.begin(), x.end());
  e.tolerance.assign(x.size(), 0.0);
  for (int64_t t = 0; t < n_tok; ++t) {
    for (int64_t h = 0; h < n_heads; ++h) {
      const int64_t row = (t * n_heads + h) * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const double ff = params.factors ? (*params.factors)[i] : 1.0;
        const double angle = positions[t] * static_cast<double>(params.freq_scale) *
                             std::pow(base, -2.0 * static_cast<double>(i) / params.n_rot) / ff;
        const int64_t a = row + (params.mode == HEARTH_ROPE_NEOX ? i : 2 * i);
        const int64_t b = row + (params.mode == HEARTH_ROPE_NEOX ? i + half : 2 * i + 1);
        const double xa = x[a], xb = x[b];
        e.value[a] = xa * std::cos(angle) - xb * std::sin(angle);
        e.value[b] = xa * std::sin(angle) + xb * std::cos(angle);
        const double tol =
            (std::fabs(xa) + std::fabs(xb)) *
            (std::fabs(angle) * static_cast<double>(i + 4) * angle_error_per_step + 4.0 * kU);
        e.tolerance[a] = tol;
        e.tolerance[b] = tol;
      }
    }
  }
  return e;
}

Expected attention(const std::vector<float>& q, const std::vector<float>& k,
                   const std::vector<float>& v, const std::vector<int32_t>& pos_q,
                   const std::vector<int32_t>& pos_k, const AttentionShape& s, float scale) {
  const int64_t D = s.head_dim;
  const int64_t group = s.n_head / s.n_head_kv;
  Expected e;
  e.value.assign(static_cast<size_t>(D * s.n_head * s.n_q), 0.0);
  e.tolerance.assign(e.value.size(), 0.0);
  std::vector<double> score(static_cast<size_t>(s.n_kv));
  for (int64_t i = 0; i < s.n_q; ++i) {
    for (int64_t h = 0; h < s.n_head; ++h) {
      const int64_t kvh = h / group;
      const float* qr = q.data() + (i * s.n_head + h) * D;
      double max_score = -std::numeric_limits<double>::infinity();
      double score_error = 0.0;
      double max_v = 0.0;
      bool any = false;
      for (int64_t j = 0; j < s.n_kv; ++j) {
        if (pos_k[j] > pos_q[i]) continue;
        const float* kr = k.data() + (j * s.n_head_kv + kvh) * D;
        double dot = 0.0, magnitude = 0.0;
        for (int64_t d = 0; d < D; ++d) {
          dot += static_cast<double>(qr[d]) * kr[d];
          magnitude += std::fabs(static_cast<double>(qr[d]) * kr[d]);
        }
        score[j] = dot * scale;
        max_score = std::max(max_score, score[j]);
        score_error =
            std::max(score_error, static_cast<double>(D + 2) * kU * std::fabs(scale) * magnitude);
        any = true;
      }
      if (!any) continue;  // zeros, exactly
      double sum = 0.0;
      for (int64_t j = 0; j < s.n_kv; ++j)
        if (pos_k[j] <= pos_q[i]) sum += std::exp(score[j] - max_score);
      const double relative = 2.5 * score_error + static_cast<double>(2 * s.n_kv + 8) * kU;
      double* out = e.value.data() + (i * s.n_head + h) * D;
      double* tol = e.tolerance.data() + (i * s.n_head + h) * D;
      for (int64_t j = 0; j < s.n_kv; ++j) {
        if (pos_k[j] > pos_q[i]) continue;
        const double p = std::exp(score[j] - max_score) / sum;
        const float* vr = v.data() + (j * s.n_head_kv + kvh) * D;
        for (int64_t d = 0; d < D; ++d) {
          out[d] += p * vr[d];
          tol[d] += p * std::fabs(vr[d]) * relative;
          max_v = std::max(max_v, std::fabs(static_cast<double>(vr[d])));
        }
      }
      for (int64_t d = 0; d < D; ++d) tol[d] += kU * max_v;
    }
  }
  return e;
}

double round_to_dtype(double x, hearth_dtype dtype) {
  int fraction_bits = 0, min_exponent = 0, max_exponent = 0;
  switch (dtype) {
    case HEARTH_DTYPE_F16:
      fraction_bits = 10, min_exponent = -14, max_exponent = 15;
      break;
    case HEARTH_DTYPE_BF16:
      fraction_bits = 7, min_exponent = -126, max_exponent = 127;
      break;
    default:
      return x;
  }
  if (!std::isfinite(x) || x == 0.0) return x;
  int e = 0;
  std::frexp(x, &e);  // |x| in [2^(e-1), 2^e)
  const int exponent = std::max(e - 1, min_exponent);
  // x / quantum is exact (a power-of-two scaling); nearbyint rounds ties to even.
  const double quantum = std::ldexp(1.0, exponent - fraction_bits);
  const double r = std::nearbyint(x / quantum) * quantum;
  const double max_finite = std::ldexp(2.0 - std::ldexp(1.0, -fraction_bits), max_exponent);
  if (std::fabs(r) > max_finite) return std::copysign(std::numeric_limits<double>::infinity(), x);
  return r == 0.0 ? std::copysign(0.0, x) : r;
}

Expected copy(const std::vector<double>& src, hearth_dtype dst_dtype) {
  std::vector<double> values;
  values.reserve(src.size());
  for (double x : src) values.push_back(round_to_dtype(x, dst_dtype));
  return exact(std::move(values));
}

Expected attention_f16_kv(const std::vector<float>& q, const std::vector<float>& k16,
                          const std::vector<float>& v16, const std::vector<int32_t>& pos_q,
                          const std::vector<int32_t>& pos_k, const AttentionShape& s, float scale) {
  const int64_t D = s.head_dim;
  const int64_t group = s.n_head / s.n_head_kv;
  auto r16 = [](double x) { return round_to_dtype(x, HEARTH_DTYPE_F16); };
  Expected e;
  e.value.assign(static_cast<size_t>(D * s.n_head * s.n_q), 0.0);
  e.tolerance.assign(e.value.size(), 0.0);
  std::vector<double> score(static_cast<size_t>(s.n_kv)), q_rounded(static_cast<size_t>(D));
  for (int64_t i = 0; i < s.n_q; ++i) {
    for (int64_t h = 0; h < s.n_head; ++h) {
      const int64_t kvh = h / group;
      const float* qr = q.data() + (i * s.n_head + h) * D;
      for (int64_t d = 0; d < D; ++d) q_rounded[d] = r16(qr[d]);
      double max_score = -std::numeric_limits<double>::infinity();
      double score_error = 0.0;
      double max_v = 0.0;
      bool any = false;
      for (int64_t j = 0; j < s.n_kv; ++j) {
        if (pos_k[j] > pos_q[i]) continue;
        const float* kr = k16.data() + (j * s.n_head_kv + kvh) * D;
        double dot = 0.0, magnitude = 0.0;
        for (int64_t d = 0; d < D; ++d) {
          dot += q_rounded[d] * kr[d];
          magnitude += std::fabs(q_rounded[d] * kr[d]);
        }
        score[j] = dot * scale;
        max_score = std::max(max_score, score[j]);
        score_error =
            std::max(score_error, static_cast<double>(D + 2) * kU * std::fabs(scale) * magnitude);
        any = true;
      }
      if (!any) continue;  // zeros, exactly
      double sum = 0.0;
      for (int64_t j = 0; j < s.n_kv; ++j)
        if (pos_k[j] <= pos_q[i]) sum += std::exp(score[j] - max_score);
      const double p_relative = 2.5 * score_error + static_cast<double>(s.n_kv + 8) * kU;
      const double sum_relative = static_cast<double>(s.n_kv + 2) * kU;
      double* out = e.value.data() + (i * s.n_head + h) * D;
      double* tol = e.tolerance.data() + (i * s.n_head + h) * D;
      for (int64_t j = 0; j < s.n_kv; ++j) {
        if (pos_k[j] > pos_q[i]) continue;
        const double p = std::exp(score[j] - max_score) / sum;
        const double p16 = r16(p);
        const double p_error = p * p_relative;
        const double spread = std::max(r16(p + p_error) - p16, p16 - r16(p - p_error));
        const float* vr = v16.data() + (j * s.n_head_kv + kvh) * D;
        for (int64_t d = 0; d < D; ++d) {
          out[d] += p16 * vr[d];
          tol[d] += std::fabs(vr[d]) * (spread + p16 * sum_relative);
          max_v = std::max(max_v, std::fabs(static_cast<double>(vr[d])));
        }
      }
      for (int64_t d = 0; d < D; ++d) tol[d] += kU * max_v;
    }
  }
  return e;
}

Expected swiglu(const std::vector<float>& x, const std::vector<float>& g) {
  Expected e;
  for (size_t i = 0; i < x.size(); ++i) {
    const double xi = x[i];
    const double y = xi / (1.0 + std::exp(-xi)) * g[i];
    e.value.push_back(y);
    e.tolerance.push_back(std::fabs(y) * 16.0 * kU + 1e-35);
  }
  return e;
}

Expected add(const std::vector<float>& a, const Shape& a_shape, const std::vector<float>& b,
             const Shape& b_shape) {
  return binary(a, a_shape, b, b_shape, [](double p, double q) { return p + q; });
}

Expected mul(const std::vector<float>& a, const Shape& a_shape, const std::vector<float>& b,
             const Shape& b_shape) {
  return binary(a, a_shape, b, b_shape, [](double p, double q) { return p * q; });
}

Expected softmax(const std::vector<float>& x, const Shape& shape, float scale) {
  const int64_t n = shape[0];
  Expected e;
  e.value.assign(x.size(), 0.0);
  e.tolerance.assign(x.size(), 0.0);
  for (int64_t r = 0; r < element_count(shape) / std::max<int64_t>(n, 1); ++r) {
    const float* row = x.data() + r * n;
    double max = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) max = std::max(max, static_cast<double>(row[i]) * scale);
    double sum = 0.0, exponent_error = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double s = static_cast<double>(row[i]) * scale;
      sum += std::exp(s - max);
      exponent_error = std::max(exponent_error, kU * (std::fabs(s) + std::fabs(s - max)));
    }
    for (int64_t i = 0; i < n; ++i) {
      const double p = std::exp(static_cast<double>(row[i]) * scale - max) / sum;
      e.value[r * n + i] = p;
      e.tolerance[r * n + i] = p * (4.0 * exponent_error + static_cast<double>(n + 8) * kU) + 1e-38;
    }
  }
  return e;
}

}  // namespace hearth::conformance
