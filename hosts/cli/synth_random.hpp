// Deterministic random weights for `hearth synth`: the same seed gives the same values on every
// machine and with any number of threads, because each fixed-size chunk of a tensor has its own
// generator seeded from (seed, tensor name, chunk index).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace hearth::cli {

// Elements per independently seeded chunk.
inline constexpr int64_t kSynthChunkElems = int64_t{1} << 16;

// Fills values (which start at element `first` of the tensor, a multiple of kSynthChunkElems)
// with normal samples of the given mean and standard deviation.
void fill_normal(std::span<float> values, int64_t first, uint64_t seed, std::string_view tensor,
                 float mean, float stddev);

}  // namespace hearth::cli
