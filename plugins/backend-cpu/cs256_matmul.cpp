#include "cs256_matmul.hpp"

#include <hearth/sdk/plugin.hpp>

#include <algorithm>
#include <vector>

#include "cs256_kernels.hpp"
#include "expanded_gemm.hpp"
#include "op_validation.hpp"
#include "quant_kernels.hpp"
#include "tensor_view.hpp"

namespace hearth::backend_cpu {
namespace {

using sdk::PluginError;

[[noreturn]] void bad_blob(const std::string& what) {
  throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                    "cpu: MATMUL: CS256 weight src[0]: " + what +
                        "; the blob is corrupt (validate it with the format-cs256 plugin)");
}

void check_structure(const Cs256Matrix& w, const hearth_tensor& t) {
  const hearth_cs256_header& h = w.header;
  if (h.m != static_cast<uint64_t>(t.ne[1]) || h.n != static_cast<uint64_t>(t.ne[0]))
    bad_blob("its header says " + std::to_string(h.m) + " x " + std::to_string(h.n) +
             " but the tensor is " + describe_tensor(t));
  if (h.blk_offset < static_cast<uint64_t>(w.blk_per_row))
    bad_blob("blk_offset " + std::to_string(h.blk_offset) + " is below the tile count");
  if (w.row_pointer(0) != 0 || w.row_pointer(t.ne[1]) != h.nnz)
    bad_blob("RowPointers do not run from 0 to nnz");
  for (int64_t i = 0; i < t.ne[1]; ++i) {
    uint64_t sum = 0;
    for (int64_t b = 0; b < w.blk_per_row; ++b) sum += w.increment(i, b);
    if (w.row_pointer(i + 1) < w.row_pointer(i) || sum != w.row_pointer(i + 1) - w.row_pointer(i))
      bad_blob("row " + std::to_string(i) + "'s tile counts disagree with its RowPointers");
  }
}

// dst[t][r] for every row and token: rows split across the pool, row_group(r, t0, group, out)
// computing tokens t0..t0+group-1 (at most kCs256TokenGroup) of row r into out.
template <class RowGroup>
void for_token_groups(const hearth_op& op, const Cs256Matrix& w, ThreadPool& pool,
                      const RowGroup& row_group) {
  const int64_t n_out = op.dst.ne[0], n_tok = row_count(op.src[1]);
  const int64_t macs_per_row =
      std::max<int64_t>(1, static_cast<int64_t>(w.header.nnz) / n_out) * n_tok;
  const int64_t grain = std::max<int64_t>(1, 32768 / macs_per_row);
  pool.parallel_for(n_out, grain, [&](int64_t begin, int64_t end) {
    float out[kCs256TokenGroup];
    for (int64_t r = begin; r < end; ++r)
      for (int64_t t0 = 0; t0 < n_tok; t0 += kCs256TokenGroup) {
        const int64_t group = std::min(kCs256TokenGroup, n_tok - t0);
        row_group(r, t0, group, out);
        for (int64_t j = 0; j < group; ++j) flat_row<float>(op.dst, t0 + j)[r] = out[j];
      }
  });
}

// Decoding and prompts below kCs256GemmTokens on AVX-512 CPUs: the F16-activation kernel
// (cs256_kernels.hpp), 1.4-1.6x the F32 kernel's speed. False when an activation is infinite or
// NaN (the F32 kernels carry those as IEEE arithmetic does).
bool try_halves(const hearth_op& op, const Cs256Matrix& w, ThreadPool& pool) {
  const int64_t n_in = op.src[1].ne[0], n_tok = row_count(op.src[1]);
  const int64_t padded = w.blk_per_row * HEARTH_CS256_TILE;
  std::vector<uint16_t> xh(static_cast<size_t>(std::max<int64_t>(padded, 1) * n_tok), 0);
  std::vector<float> unscale(static_cast<size_t>(n_tok));
  for (int64_t j = 0; j < n_tok; ++j) {
    const auto u =
        cs256_halve_activations(flat_row<const float>(op.src[1], j), n_in, xh.data() + j * padded);
    if (!u) return false;
    unscale[static_cast<size_t>(j)] = *u;
  }
  for_token_groups(op, w, pool, [&](int64_t r, int64_t t0, int64_t group, float* out) {
    const uint16_t* xs[kCs256TokenGroup];
    for (int64_t j = 0; j < group; ++j) xs[j] = xh.data() + (t0 + j) * padded;
    cs256_row_dot_halves(w, r, xs, unscale.data() + t0, group, out);
  });
  return true;
}

}  // namespace

std::optional<std::string> check_cs256_matmul(const hearth_op& op) {
  const hearth_tensor& w = op.src[0];
  const hearth_tensor& x = op.src[1];
  const hearth_tensor& d = op.dst;
  if (op.n_src != 2)
    throw PluginError(
        HEARTH_ERR_INVALID_ARGUMENT,
        "cpu: MATMUL: takes 2 sources (weight, activations), got " + std::to_string(op.n_src));
  if (x.dtype != HEARTH_DTYPE_F32 || d.dtype != HEARTH_DTYPE_F32)
    return "cpu: MATMUL: a CS256 weight needs F32 activations and dst, got " + describe_tensor(x) +
           " and " + describe_tensor(d);
  for (int k = 0; k < HEARTH_MAX_DIMS; ++k)
    if (w.ne[k] < 0 || x.ne[k] < 0 || d.ne[k] < 0)
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT, "cpu: MATMUL: negative dimension");
  if (w.ne[2] != 1 || w.ne[3] != 1 || w.ne[0] > 0xffffffffll || w.ne[1] > 0xffffffffll)
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      "cpu: MATMUL: CS256 weight src[0] " + describe_tensor(w) +
                          " must be 2-D [n_in, n_out] with 32-bit dimensions");
  if (x.ne[0] != w.ne[0] || d.ne[0] != w.ne[1] || d.ne[1] != x.ne[1] || d.ne[2] != x.ne[2] ||
      d.ne[3] != x.ne[3])
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      "cpu: MATMUL: weight " + describe_tensor(w) + ", activations " +
                          describe_tensor(x) + " and dst " + describe_tensor(d) +
                          " disagree (dst must be [n_out, n_tok], activations [n_in, n_tok])");
  if ((x.nb[0] != 4 && x.ne[0] > 1) || (d.nb[0] != 4 && d.ne[0] > 1))
    return std::string("cpu: MATMUL: a CS256 weight needs contiguous activation and dst rows");
  return std::nullopt;
}

void run_cs256_matmul(const hearth_op& op, ThreadPool& pool, F32Gemm* gemm) {
  const hearth_tensor& t = op.src[0];
  const hearth_tensor& x = op.src[1];
  const int64_t n_in = t.ne[0], n_out = t.ne[1], n_tok = row_count(x);
  if (n_out == 0 || n_tok == 0) return;
  Cs256Matrix w;
  if (!cs256_matrix(t.data, w)) bad_blob("no CS256 version-1 header");
  check_structure(w, t);
  // Activations padded to whole tiles: whatever a tile's indices say, reads stay in the buffer.
  const int64_t padded = w.blk_per_row * HEARTH_CS256_TILE;
  if (gemm && n_tok >= (cpu_has_avx512_vnni() ? kCs256GemmTokens : kExpandedGemmTokens) &&
      try_expanded_gemm(op, *gemm, pool, padded,
                        [&](int64_t r, float* out) { cs256_expand_row(w, r, out); }))
    return;
  if (cpu_has_avx512_vnni() && try_halves(op, w, pool)) return;
  std::vector<float> xpad(static_cast<size_t>(std::max<int64_t>(padded, 1) * n_tok), 0.0f);
  for (int64_t j = 0; j < n_tok; ++j)
    std::copy_n(flat_row<const float>(x, j), n_in, xpad.data() + j * padded);
  for_token_groups(op, w, pool, [&](int64_t r, int64_t t0, int64_t group, float* out) {
    const float* xs[kCs256TokenGroup];
    for (int64_t j = 0; j < group; ++j) xs[j] = xpad.data() + (t0 + j) * padded;
    cs256_row_dot(w, r, xs, group, out);
  });
}

}  // namespace hearth::backend_cpu
