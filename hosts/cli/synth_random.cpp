#include "synth_random.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace hearth::cli {
namespace {

// splitmix64: a small generator with good statistics, and a good mixer of seeds. std's
// distributions are not used because their output differs between standard libraries.
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

// A uniform double in (0, 1], so log() below never sees 0.
double uniform(uint64_t& state) {
  return (static_cast<double>(splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
}

}  // namespace

void fill_normal(std::span<float> values, int64_t first, uint64_t seed, std::string_view tensor,
                 float mean, float stddev) {
  const uint64_t tensor_seed = seed ^ fnv1a(tensor);
  for (size_t start = 0; start < values.size(); start += kSynthChunkElems) {
    uint64_t state = tensor_seed;
    const uint64_t chunk =
        static_cast<uint64_t>(first) / kSynthChunkElems + start / kSynthChunkElems;
    state ^= splitmix64(state) + chunk;
    const size_t end = std::min(values.size(), start + static_cast<size_t>(kSynthChunkElems));
    // Box-Muller: two uniforms give two independent normals.
    for (size_t i = start; i < end; i += 2) {
      const double radius = std::sqrt(-2.0 * std::log(uniform(state)));
      const double angle = 2.0 * std::numbers::pi * uniform(state);
      values[i] = mean + stddev * static_cast<float>(radius * std::cos(angle));
      if (i + 1 < end) values[i + 1] = mean + stddev * static_cast<float>(radius * std::sin(angle));
    }
  }
}

}  // namespace hearth::cli
