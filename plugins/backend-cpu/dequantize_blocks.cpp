// Block dequantizers for EMBEDDING: ggml's dequantize_row_* in ggml's operation order (e.g.
// (d * scale) * q - dmin * min), so the float results are bit-identical to llama.cpp's get_rows.
#include "dequantize_blocks.hpp"

#include <cstring>

#include "quant_blocks.hpp"

namespace hearth::backend_cpu {
namespace {

uint32_t load_qh(const uint8_t (&qh)[4]) {
  uint32_t v;
  std::memcpy(&v, qh, sizeof v);
  return v;
}

void dequantize_q4_0(const BlockQ4_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = half_to_float(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) - 8) * d;
      y[j + kQK / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1(const BlockQ4_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = half_to_float(x[i].d);
    const float m = half_to_float(x[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = static_cast<float>(x[i].qs[j] & 0x0F) * d + m;
      y[j + kQK / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_q5_0(const BlockQ5_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = half_to_float(x[i].d);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      y[j] = static_cast<float>(((x[i].qs[j] & 0x0F) | h0) - 16) * d;
      y[j + kQK / 2] = static_cast<float>(((x[i].qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

void dequantize_q5_1(const BlockQ5_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = half_to_float(x[i].d);
    const float m = half_to_float(x[i].m);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) | h0) * d + m;
      y[j + kQK / 2] = static_cast<float>((x[i].qs[j] >> 4) | h1) * d + m;
    }
  }
}

void dequantize_q8_0(const BlockQ8_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = half_to_float(x[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void dequantize_q2_k(const BlockQ2_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = half_to_float(x[i].d);
    const float min = half_to_float(x[i].dmin);
    const uint8_t* q = x[i].qs;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32)
      for (int shift = 0; shift < 8; shift += 2)
        for (int part = 0; part < 2; ++part) {
          const uint8_t sc = x[i].scales[is++];
          const float dl = d * static_cast<float>(sc & 0xF);
          const float ml = min * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l)
            *y++ = dl * static_cast<float>((q[l + 16 * part] >> shift) & 3) - ml;
        }
  }
}

void dequantize_q3_k(const BlockQ3_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d_all = half_to_float(x[i].d);
    int8_t scales[16];
    unpack_scales_q3_k(x[i].scales, scales);
    const uint8_t* q = x[i].qs;
    unsigned m = 1;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32)
      for (int shift = 0; shift < 8; shift += 2, m <<= 1)
        for (int part = 0; part < 2; ++part) {
          const float dl = d_all * static_cast<float>(scales[is++]);
          for (int l = 0; l < 16; ++l) {
            const int lo = (q[l + 16 * part] >> shift) & 3;
            const int missing = (x[i].hmask[l + 16 * part] & m) ? 0 : 4;
            *y++ = dl * static_cast<float>(lo - missing);
          }
        }
  }
}

template <class Block, bool kFifthBit>
void dequantize_affine_k(const Block* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = half_to_float(x[i].d);
    const float min = half_to_float(x[i].dmin);
    uint8_t sc[8], mn[8];
    unpack_scales_k4(x[i].scales, sc, mn);
    for (int p = 0; p < 4; ++p) {
      const uint8_t* q = x[i].qs + 32 * p;
      const float d1 = d * static_cast<float>(sc[2 * p]);
      const float m1 = min * static_cast<float>(mn[2 * p]);
      const float d2 = d * static_cast<float>(sc[2 * p + 1]);
      const float m2 = min * static_cast<float>(mn[2 * p + 1]);
      for (int l = 0; l < 32; ++l) {
        int v = q[l] & 0xF;
        if constexpr (kFifthBit) v += ((x[i].qh[l] >> (2 * p)) & 1) << 4;
        *y++ = d1 * static_cast<float>(v) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        int v = q[l] >> 4;
        if constexpr (kFifthBit) v += ((x[i].qh[l] >> (2 * p + 1)) & 1) << 4;
        *y++ = d2 * static_cast<float>(v) - m2;
      }
    }
  }
}

void dequantize_q6_k(const BlockQ6_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = half_to_float(x[i].d);
    for (int h = 0; h < 2; ++h, y += 128) {
      const uint8_t* ql = x[i].ql + 64 * h;
      const uint8_t* qh = x[i].qh + 32 * h;
      const int8_t* sc = x[i].scales + 8 * h;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace

bool dequantize_blocks(hearth_dtype dtype, const void* row, float* out, int64_t n) {
  switch (dtype) {
    case HEARTH_DTYPE_Q4_0:
      dequantize_q4_0(static_cast<const BlockQ4_0*>(row), out, n / kQK);
      return true;
    case HEARTH_DTYPE_Q4_1:
      dequantize_q4_1(static_cast<const BlockQ4_1*>(row), out, n / kQK);
      return true;
    case HEARTH_DTYPE_Q5_0:
      dequantize_q5_0(static_cast<const BlockQ5_0*>(row), out, n / kQK);
      return true;
    case HEARTH_DTYPE_Q5_1:
      dequantize_q5_1(static_cast<const BlockQ5_1*>(row), out, n / kQK);
      return true;
    case HEARTH_DTYPE_Q8_0:
      dequantize_q8_0(static_cast<const BlockQ8_0*>(row), out, n / kQK);
      return true;
    case HEARTH_DTYPE_Q2_K:
      dequantize_q2_k(static_cast<const BlockQ2_K*>(row), out, n / kQK_K);
      return true;
    case HEARTH_DTYPE_Q3_K:
      dequantize_q3_k(static_cast<const BlockQ3_K*>(row), out, n / kQK_K);
      return true;
    case HEARTH_DTYPE_Q4_K:
      dequantize_affine_k<BlockQ4_K, false>(static_cast<const BlockQ4_K*>(row), out, n / kQK_K);
      return true;
    case HEARTH_DTYPE_Q5_K:
      dequantize_affine_k<BlockQ5_K, true>(static_cast<const BlockQ5_K*>(row), out, n / kQK_K);
      return true;
    case HEARTH_DTYPE_Q6_K:
      dequantize_q6_k(static_cast<const BlockQ6_K*>(row), out, n / kQK_K);
      return true;
    default:
      return false;
  }
}

}  // namespace hearth::backend_cpu
