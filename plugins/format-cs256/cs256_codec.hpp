// CS256 pruning, encoding, validation and the dense reference (spec: shared/specs/cs256.md).
#pragma once

#include <hearth/sdk/plugin.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace hearth::format_cs256 {

struct EncodeOptions {
  // Target fraction of zeros in [0, 1); nullopt: keep the matrix's own non-zeros (an already
  // pruned matrix), padding each tile with explicit zeros up to a multiple of vec.
  std::optional<double> sparsity;
  hearth_dtype values = HEARTH_DTYPE_F16;  // F16, BF16 or I8 (with one F32 scale per row)
  int vec = 8;                             // every tile's count is a multiple of it: 4, 8, 16
};

// Options "sparsity", "values" (f16|bf16|int8), "vec" (4|8|16); any other key is an error.
EncodeOptions parse_encode_options(const sdk::Options& options);

// The pruner's choice, rows x cols row-major, 1 = kept. Scores are |w| (magnitude) or
// |w| * importance[col] (Wanda, importance = per-column activation norms). Per tile the kept
// weights are its top-scored 8k (k groups of vec, at most 248 per tile); per 256-column block
// the groups of all rows compete for floor(rows * width * (1 - sparsity)) weights (rounded down
// to a multiple of vec), the seed's compressed_sparse_tile_mask without the SparseGPT update.
std::vector<uint8_t> select_kept(const float* w, int64_t rows, int64_t cols,
                                 const float* importance, double sparsity, int vec);

// The whole blob for w (rows = n_out, cols = n_in).
std::vector<std::byte> encode(const float* w, int64_t rows, int64_t cols, const float* importance,
                              const EncodeOptions& options);

// Every invariant of README.md "Invariants"; throws sdk::PluginError naming the first violation.
void validate(const void* data, uint64_t bytes, int64_t rows, int64_t cols);

// Dense row-major expansion of a validated blob: n_elems must be rows * cols.
void dequantize(const void* data, float* dst, int64_t n_elems);

}  // namespace hearth::format_cs256
