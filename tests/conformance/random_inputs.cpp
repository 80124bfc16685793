#include "random_inputs.hpp"

#include <hearth/sdk/half.hpp>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace hearth::conformance {

uint64_t run_seed() {
  static const uint64_t seed = [] {
    if (const char* env = std::getenv("HEARTH_TEST_SEED"); env && *env) {
      uint64_t value = 0;
      const char* end = env + std::strlen(env);
      auto [ptr, ec] = std::from_chars(env, end, value);
      if (ec != std::errc() || ptr != end)
        throw std::invalid_argument(
            std::string("HEARTH_TEST_SEED must be an unsigned integer, got '") + env + "'");
      return value;
    }
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }();
  return seed;
}

std::string seed_note() { return "HEARTH_TEST_SEED=" + std::to_string(run_seed()); }

std::mt19937_64 generator_for(const std::string& test_name) {
  uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a, stable across builds unlike std::hash
  for (unsigned char c : test_name) hash = (hash ^ c) * 0x100000001b3ull;
  std::seed_seq seq{static_cast<uint32_t>(run_seed()), static_cast<uint32_t>(run_seed() >> 32),
                    static_cast<uint32_t>(hash), static_cast<uint32_t>(hash >> 32)};
  return std::mt19937_64(seq);
}

std::vector<float> uniform_floats(std::mt19937_64& rng, int64_t n, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto& v : out) v = dist(rng);
  return out;
}

std::vector<float> normal_floats(std::mt19937_64& rng, int64_t n, float sigma) {
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto& v : out) v = dist(rng);
  return out;
}

int64_t pick(std::mt19937_64& rng, std::initializer_list<int64_t> choices) {
  std::uniform_int_distribution<size_t> dist(0, choices.size() - 1);
  return *(choices.begin() + dist(rng));
}

WeightMatrix random_weights(std::mt19937_64& rng, hearth_dtype dtype, int64_t n_in, int64_t n_out) {
  WeightMatrix w;
  w.dtype = dtype;
  w.n_in = n_in;
  w.n_out = n_out;
  w.bytes.resize(static_cast<size_t>(w.row_bytes() * n_out));
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::uniform_real_distribution<float> scale(0.002f, 0.05f);
  std::uniform_int_distribution<int> byte(0, 255);
  auto put16 = [&](size_t at, uint16_t bits) {
    w.bytes[at] = static_cast<uint8_t>(bits & 0xFF);
    w.bytes[at + 1] = static_cast<uint8_t>(bits >> 8);
  };
  const size_t n = static_cast<size_t>(n_in * n_out);
  switch (dtype) {
    case HEARTH_DTYPE_F32:
      for (size_t i = 0; i < n; ++i) {
        const float f = value(rng);
        std::memcpy(w.bytes.data() + 4 * i, &f, 4);
      }
      break;
    case HEARTH_DTYPE_F16:
      for (size_t i = 0; i < n; ++i) put16(2 * i, sdk::fp32_to_fp16(value(rng)));
      break;
    case HEARTH_DTYPE_BF16:
      for (size_t i = 0; i < n; ++i) put16(2 * i, sdk::fp32_to_bf16(value(rng)));
      break;
    case HEARTH_DTYPE_Q8_0:
    case HEARTH_DTYPE_Q4_0:
    case HEARTH_DTYPE_Q5_0: {
      const size_t block_bytes = dtype == HEARTH_DTYPE_Q8_0   ? 34
                                 : dtype == HEARTH_DTYPE_Q4_0 ? 18
                                                              : 22;
      for (size_t b = 0; b < n / 32; ++b) {
        const float sign = (dtype != HEARTH_DTYPE_Q8_0 && byte(rng) < 128) ? -1.0f : 1.0f;
        put16(b * block_bytes, sdk::fp32_to_fp16(sign * scale(rng)));
        for (size_t j = 2; j < block_bytes; ++j)
          w.bytes[b * block_bytes + j] = static_cast<uint8_t>(byte(rng));
      }
      break;
    }
    case HEARTH_DTYPE_Q4_K:
    case HEARTH_DTYPE_Q5_K:
    case HEARTH_DTYPE_Q6_K: {
      // Random quants and packed scales; the f16 super-block scales (d and dmin at the start of
      // Q4_K/Q5_K, d at the end of Q6_K) are set to small positive values.
      const size_t block_bytes = static_cast<size_t>(row_bytes(dtype, 256));
      for (size_t b = 0; b < n / 256; ++b) {
        uint8_t* block = w.bytes.data() + b * block_bytes;
        for (size_t j = 0; j < block_bytes; ++j) block[j] = static_cast<uint8_t>(byte(rng));
        const float small = dtype == HEARTH_DTYPE_Q6_K ? 0.02f : 0.05f;
        if (dtype == HEARTH_DTYPE_Q6_K) {
          put16(b * block_bytes + 208, sdk::fp32_to_fp16(small * scale(rng)));
        } else {
          put16(b * block_bytes, sdk::fp32_to_fp16(small * scale(rng)));
          put16(b * block_bytes + 2, sdk::fp32_to_fp16(small * scale(rng)));
        }
      }
      break;
    }
    default:
      throw std::invalid_argument("random_weights: unsupported dtype");
  }
  return w;
}

}  // namespace hearth::conformance
