// Rows of random quantized blocks for the kernel tests and benchmarks: every quant bit random
// (so every level and scale occurs, -128 included), the fp16 scales (d, m, dmin) random with
// both signs at a realistic magnitude.
#pragma once

#include <hearth/sdk/abi.h>
#include <hearth/sdk/half.hpp>

#include <cstddef>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "quant_blocks.hpp"

namespace hearth::backend_cpu::test {

struct QuantLayout {
  const char* name;
  hearth_dtype dtype;
  int block_elems;
  int block_bytes;
};

inline constexpr QuantLayout kQuantLayouts[] = {
    {"Q4_0", HEARTH_DTYPE_Q4_0, 32, 18},   {"Q4_1", HEARTH_DTYPE_Q4_1, 32, 20},
    {"Q5_0", HEARTH_DTYPE_Q5_0, 32, 22},   {"Q5_1", HEARTH_DTYPE_Q5_1, 32, 24},
    {"Q8_0", HEARTH_DTYPE_Q8_0, 32, 34},   {"Q2_K", HEARTH_DTYPE_Q2_K, 256, 84},
    {"Q3_K", HEARTH_DTYPE_Q3_K, 256, 110}, {"Q4_K", HEARTH_DTYPE_Q4_K, 256, 144},
    {"Q5_K", HEARTH_DTYPE_Q5_K, 256, 176}, {"Q6_K", HEARTH_DTYPE_Q6_K, 256, 210},
};

inline const QuantLayout& quant_layout(hearth_dtype dtype) {
  for (const auto& l : kQuantLayouts)
    if (l.dtype == dtype) return l;
  throw std::invalid_argument("no quantized layout for dtype " + std::to_string(dtype));
}

template <class Block>
void randomize_scales(std::byte* block, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> scale(-0.02f, 0.02f);
  Block v;
  std::memcpy(&v, block, sizeof v);
  if constexpr (requires { v.d; }) v.d = sdk::fp32_to_fp16(scale(rng));
  if constexpr (requires { v.m; }) v.m = sdk::fp32_to_fp16(scale(rng));
  if constexpr (requires { v.dmin; }) v.dmin = sdk::fp32_to_fp16(scale(rng));
  std::memcpy(block, &v, sizeof v);
}

// n_rows rows of n elements (a multiple of the block size), packed.
inline std::vector<std::byte> random_blocks(std::mt19937_64& rng, hearth_dtype dtype, int64_t n,
                                            int64_t n_rows = 1) {
  const QuantLayout& l = quant_layout(dtype);
  const int64_t n_blocks = n / l.block_elems * n_rows;
  std::vector<std::byte> out(static_cast<size_t>(n_blocks * l.block_bytes));
  for (size_t i = 0; i + 8 <= out.size(); i += 8) {
    const uint64_t bits = rng();
    std::memcpy(out.data() + i, &bits, 8);
  }
  for (int64_t b = 0; b < n_blocks; ++b) {
    std::byte* block = out.data() + b * l.block_bytes;
    switch (dtype) {
      case HEARTH_DTYPE_Q4_0:
        randomize_scales<BlockQ4_0>(block, rng);
        break;
      case HEARTH_DTYPE_Q4_1:
        randomize_scales<BlockQ4_1>(block, rng);
        break;
      case HEARTH_DTYPE_Q5_0:
        randomize_scales<BlockQ5_0>(block, rng);
        break;
      case HEARTH_DTYPE_Q5_1:
        randomize_scales<BlockQ5_1>(block, rng);
        break;
      case HEARTH_DTYPE_Q8_0:
        randomize_scales<BlockQ8_0>(block, rng);
        break;
      case HEARTH_DTYPE_Q2_K:
        randomize_scales<BlockQ2_K>(block, rng);
        break;
      case HEARTH_DTYPE_Q3_K:
        randomize_scales<BlockQ3_K>(block, rng);
        break;
      case HEARTH_DTYPE_Q4_K:
        randomize_scales<BlockQ4_K>(block, rng);
        break;
      case HEARTH_DTYPE_Q5_K:
        randomize_scales<BlockQ5_K>(block, rng);
        break;
      case HEARTH_DTYPE_Q6_K:
        randomize_scales<BlockQ6_K>(block, rng);
        break;
      default:
        break;
    }
  }
  return out;
}

}  // namespace hearth::backend_cpu::test
