// MATMUL: dst[n_out, n_tok] = W x.
// Quantized weights (ggml's way): every activation column is quantized once to the weight
// type's activation blocks (into the device's scratch), then output rows are split across the
// pool; each thread walks its rows in tiles and, for a group of tokens at a time, dots every row
// of the tile with each token, so a weight row is fetched from memory once per op and reused
// from cache for the whole group. F32/F16/BF16 weights keep F32 activations: one token runs
// dot products through the same tiles (converted on the fly); F32 with several tokens goes to
// oneDNN when the device has it, and so do F16/BF16 (and NF4, CS256) prompts of several dozen
// tokens, on rows expanded to F32 (expanded_gemm.hpp).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "cs256_matmul.hpp"
#include "expanded_gemm.hpp"
#include "f32_gemm.hpp"
#include "interleaved_weights.hpp"
#include "kernels.hpp"
#include "nf4_matmul.hpp"
#include "quant_kernels.hpp"
#include "tensor_view.hpp"
#include "thread_pool.hpp"
#include "weight_rows.hpp"

namespace hearth::backend_cpu {
namespace {

constexpr int64_t kMacsPerChunk = 32768;
// Rows of one tile: 16 rows of the widest TinyLlama row (5632 Q8_0 elements, 6 KB) stay in L2.
constexpr int64_t kRowTile = 16;
// Tokens per pass over a tile: their quantized columns (8 x 6 KB at most) stay in L1/L2.
constexpr int64_t kTokenGroup = 8;

// Activations and dst as row-major matrices when their tokens are evenly strided.
// The pool splits the weight rows and each thread runs a single-threaded GEMM on its slice:
// letting oneDNN start its own OpenMP team instead leaves those threads spinning after every call,
// which starves the pool's threads (and any other process) on a small or busy machine.
bool try_gemm(const hearth_op& op, F32Gemm& gemm, ThreadPool& pool) {
  const hearth_tensor& w = op.src[0];
  const hearth_tensor& x = op.src[1];
  if (x.ne[2] != 1 || x.ne[3] != 1) return false;
  const F32Matrix xm{static_cast<const float*>(x.data), x.ne[1], x.ne[0],
                     x.nb[1] / static_cast<int64_t>(sizeof(float))};
  const int64_t w_stride = w.nb[1] / static_cast<int64_t>(sizeof(float));
  const int64_t out_stride = op.dst.nb[1] / static_cast<int64_t>(sizeof(float));
  // Rows that overlap are legal views but not matrices oneDNN takes; the plain loop handles them.
  if (xm.stride < xm.cols || w_stride < w.ne[0] || out_stride < w.ne[1]) return false;
  std::atomic<bool> all_done{true};
  constexpr int64_t kRowsPerSlice = 64;
  pool.parallel_for(w.ne[1], kRowsPerSlice, [&](int64_t begin, int64_t end) {
    const F32Matrix slice{static_cast<const float*>(w.data) + begin * w_stride, end - begin,
                          w.ne[0], w_stride};
    if (!gemm.multiply(xm, slice, static_cast<float*>(op.dst.data) + begin, out_stride, 1))
      all_done.store(false);
  });
  return all_done.load();
}

// dst[t][r] = dot(r, t) over output rows split across the pool; each thread walks its rows in
// tiles of kRowTile and, per group of kTokenGroup tokens, dots every row of the tile with each
// token of the group, so a weight row comes from memory once and is reused from cache.
template <class Dot>
void tiled_rows(const hearth_op& op, ThreadPool& pool, int64_t grain, const Dot& dot) {
  const int64_t n_out = op.src[0].ne[1];
  const int64_t n_tok = row_count(op.src[1]);
  pool.parallel_for(n_out, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r0 = begin; r0 < end; r0 += kRowTile) {
      const int64_t r1 = std::min(end, r0 + kRowTile);
      for (int64_t t0 = 0; t0 < n_tok; t0 += kTokenGroup) {
        const int64_t t1 = std::min(n_tok, t0 + kTokenGroup);
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t t = t0; t < t1; ++t) flat_row<float>(op.dst, t)[r] = dot(r, t);
      }
    }
  });
}

// The same walk as tiled_rows, each (row tile, token group) handed to the type's tile kernel,
// which blocks rows and tokens in registers.
void run_quantized_tiles(const hearth_op& op, QuantTileFn tile_fn, ThreadPool& pool, int64_t grain,
                         const char* act, int64_t act_bytes) {
  const hearth_tensor& w = op.src[0];
  const int64_t n_in = w.ne[0];
  const int64_t n_out = w.ne[1];
  const int64_t n_tok = row_count(op.src[1]);
  std::vector<const char*> act_rows(static_cast<size_t>(n_tok));
  std::vector<float*> dst_rows(static_cast<size_t>(n_tok));
  for (int64_t t = 0; t < n_tok; ++t) {
    act_rows[static_cast<size_t>(t)] = act + t * act_bytes;
    dst_rows[static_cast<size_t>(t)] = flat_row<float>(op.dst, t);
  }
  pool.parallel_for(n_out, grain, [&](int64_t begin, int64_t end) {
    float* out[kTokenGroup];
    for (int64_t r0 = begin; r0 < end; r0 += kRowTile) {
      const int64_t r1 = std::min(end, r0 + kRowTile);
      for (int64_t t0 = 0; t0 < n_tok; t0 += kTokenGroup) {
        const int64_t t1 = std::min(n_tok, t0 + kTokenGroup);
        for (int64_t t = t0; t < t1; ++t) out[t - t0] = dst_rows[static_cast<size_t>(t)] + r0;
        const QuantTile tile{row_at<const char>(w, r0 * w.nb[1]),
                             w.nb[1],
                             r1 - r0,
                             act_rows.data() + t0,
                             out,
                             t1 - t0};
        tile_fn(n_in, tile);
      }
    }
  });
}

// Tokens per pass over a thread's groups in the interleaved GEMM: their activation rows (32 x
// 6 KB at TinyLlama's widest row) stay in L2 while the groups stream past.
constexpr int64_t kInterleavedTokenChunk = 32;

// Rows in groups of 8 from the interleaved copy, then the rows after the last full group by the
// per-row dot. The pool splits (group, chunk of kInterleavedTokenChunk tokens) units, group-major,
// then the tail rows (all tokens each), so threads get equal shares even of a weight with few
// groups; each thread walks its units chunk by chunk, the chunk's activations staying in cache.
// In a chunk, tokens go kGemmTokens at a time through the GEMM, then kGemmTokensNarrow, and the
// rest one by one through the GEMV, which computes each value with the same bits
// (interleaved_gemm_avx2.cpp): a value depends only on its row, never on the thread split, the
// chunking or the token count.
void run_interleaved(const hearth_op& op, const InterleavedMatrix& packed,
                     const QuantTypeKernels& kernels, ThreadPool& pool, const char* act,
                     int64_t act_bytes, const ActivationBlockInfo* info) {
  const hearth_tensor& w = op.src[0];
  const int64_t n_in = w.ne[0];
  const int64_t n_out = w.ne[1];
  const int64_t n_tok = row_count(op.src[1]);
  const int64_t n_blocks = n_in / kQK;
  const InterleavedGemmFn gemm = n_tok >= kGemmTokensNarrow ? interleaved_gemm(w.dtype) : nullptr;
  const int64_t first_tail_row = packed.n_groups * kInterleavedRows;
  const int64_t n_chunks = (n_tok + kInterleavedTokenChunk - 1) / kInterleavedTokenChunk;
  const int64_t group_units = packed.n_groups * n_chunks;
  const int64_t units = group_units + (n_out - first_tail_row);
  const int64_t unit_tokens = std::min(n_tok, kInterleavedTokenChunk);
  const int64_t grain = std::max<int64_t>(
      1, kMacsPerChunk / std::max<int64_t>(kInterleavedRows * n_in * unit_tokens, 1));

  // Tokens [t0, t1) of group g.
  const auto run_group = [&](int64_t g, int64_t t0, int64_t t1) {
    const char* group = packed.group(g);
    const int64_t r0 = g * kInterleavedRows;
    float res[kGemmTokens][kInterleavedRows];
    int64_t t = t0;
    if (gemm != nullptr) {
      for (const int width : {kGemmTokens, kGemmTokensNarrow}) {
        for (; t + width <= t1; t += width) {
          gemm(n_in, group, act + t * act_bytes, act_bytes, info + t * n_blocks, n_blocks, width,
               res);
          for (int k = 0; k < width; ++k)
            std::memcpy(flat_row<float>(op.dst, t + k) + r0, res[k], sizeof res[k]);
        }
      }
    }
    for (; t < t1; ++t) {
      packed.gemv(n_in, group, act + t * act_bytes, info + t * n_blocks, res[0]);
      std::memcpy(flat_row<float>(op.dst, t) + r0, res[0], sizeof res[0]);
    }
  };

  pool.parallel_for(units, grain, [&](int64_t begin, int64_t end) {
    const int64_t group_end = std::min(end, group_units);
    for (int64_t c = 0; c < n_chunks; ++c) {
      const int64_t t0 = c * kInterleavedTokenChunk;
      const int64_t t1 = std::min(n_tok, t0 + kInterleavedTokenChunk);
      // The units of chunk c in [begin, group_end): u = g * n_chunks + c.
      for (int64_t g = begin / n_chunks; g * n_chunks + c < group_end; ++g)
        if (g * n_chunks + c >= begin) run_group(g, t0, t1);
    }
    for (int64_t u = std::max(begin, group_units); u < end; ++u) {
      const int64_t r = first_tail_row + (u - group_units);
      for (int64_t t = 0; t < n_tok; ++t)
        flat_row<float>(op.dst, t)[r] =
            kernels.dot(n_in, row_at<const char>(w, r * w.nb[1]), act + t * act_bytes);
    }
  });
}

void run_quantized(const hearth_op& op, const QuantTypeKernels& kernels, ThreadPool& pool,
                   MatmulScratch& scratch, const InterleavedMatrix* interleaved) {
  const hearth_tensor& w = op.src[0];
  const hearth_tensor& x = op.src[1];
  const int64_t n_in = w.ne[0];
  const int64_t n_tok = row_count(x);
  const int64_t act_bytes = n_in / kernels.activation_block_elems * kernels.activation_block_bytes;

  std::lock_guard lock(scratch.mutex);
  const auto words = static_cast<size_t>((n_tok * act_bytes + 7) / 8);
  if (scratch.words.size() < words) scratch.words.resize(words);
  auto* act = reinterpret_cast<char*>(scratch.words.data());
  // The interleaved kernels' per-block activation info (interleaved_rows.hpp), made with the
  // blocks by the thread that quantized them.
  const int64_t n_blocks = n_in / kQK;
  if (interleaved != nullptr) scratch.block_info.resize(static_cast<size_t>(n_tok * n_blocks));
  ActivationBlockInfo* info = scratch.block_info.data();
  pool.parallel_for(
      n_tok, std::max<int64_t>(1, kMacsPerChunk / std::max<int64_t>(n_in, 1)),
      [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
          kernels.quantize_activations(flat_row<const float>(x, t), act + t * act_bytes, n_in);
          if (interleaved != nullptr)
            describe_activations(w.dtype, act + t * act_bytes, info + t * n_blocks, n_in);
        }
      });

  if (interleaved != nullptr)
    return run_interleaved(op, *interleaved, kernels, pool, act, act_bytes, info);
  const int64_t grain = std::max<int64_t>(1, kMacsPerChunk / std::max<int64_t>(n_in * n_tok, 1));
  // One token has no weight block to reuse across tokens, and measured on Zen 3 the tile's
  // four interleaved row streams were no faster than the sequential per-row dot (slower for
  // Q8_0 and the K-quants), so decode keeps the dot; a given op's tokens all take one path.
  if (kernels.tile != nullptr && n_tok > 1)
    return run_quantized_tiles(op, kernels.tile, pool, grain, act, act_bytes);
  tiled_rows(op, pool, grain, [&](int64_t r, int64_t t) {
    return kernels.dot(n_in, row_at<const char>(w, r * w.nb[1]), act + t * act_bytes);
  });
}

}  // namespace

void run_matmul(const hearth_op& op, ThreadPool& pool, F32Gemm* gemm, MatmulScratch& scratch,
                const InterleavedMatrix* interleaved) {
  const hearth_tensor& w = op.src[0];
  const hearth_tensor& x = op.src[1];
  const int64_t n_in = w.ne[0];
  const int64_t n_out = w.ne[1];
  const int64_t n_tok = row_count(x);
  if (n_out == 0 || n_tok == 0) return;
  if (w.dtype == HEARTH_DTYPE_NF4) return run_nf4_matmul(op, pool, gemm);
  if (w.dtype == HEARTH_DTYPE_CS256) return run_cs256_matmul(op, pool, gemm);
  if (const QuantTypeKernels* kernels = quant_type_kernels(w.dtype))
    return run_quantized(op, *kernels, pool, scratch, interleaved);

  if (n_tok > 1 && gemm && w.dtype == HEARTH_DTYPE_F32 && n_in > 0 && try_gemm(op, *gemm, pool))
    return;
  if (n_tok >= kExpandedHalfGemmTokens && gemm && n_in > 0 &&
      (w.dtype == HEARTH_DTYPE_F16 || w.dtype == HEARTH_DTYPE_BF16) &&
      try_expanded_gemm(op, *gemm, pool, n_in, [&](int64_t r, float* out) {
        dequantize_weight_row(w.dtype, row_at<const char>(w, r * w.nb[1]), out, n_in);
      }))
    return;
  // F32/F16/BF16 rows keep F32 activations (converted on the fly by the AVX2 kernels).
  const int64_t grain = std::max<int64_t>(1, kMacsPerChunk / std::max<int64_t>(n_in * n_tok, 1));
  tiled_rows(op, pool, grain, [&](int64_t r, int64_t t) {
    return dot_weight_row(w.dtype, row_at<const char>(w, r * w.nb[1]), flat_row<const float>(x, t),
                          n_in);
  });
}

}  // namespace hearth::backend_cpu
