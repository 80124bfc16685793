// MATMUL. 1..8 tokens with aligned operands go to the decode GEMV (gemv_kernels.cuh): the
// quantized types through q8 activations when the caller passed the scratch for them. The rest
// (more tokens, unaligned activation views, plain rows not a multiple of 8) take the generic
// kernel: one warp per weight row. The warp walks the row in groups of 8 elements (a lane per
// group), decodes each group in registers once and multiplies it into up to kTokensPerPass
// activation columns, accumulating in float; a warp reduction finishes each dot product.
// Several tokens reuse each decoded group kTokensPerPass times before the next pass over the row.
#include "cs256_matmul.hpp"
#include "dequant.cuh"
#include "gemv_kernels.cuh"
#include "kernels.hpp"
#include "nf4_kernels.hpp"
#include "programmatic_launch.cuh"

namespace hearth::backend_gpu {
namespace {

constexpr int kRowsPerBlock = 8;
constexpr int kTokensPerPass = 8;

// GROUPED: decode with load8 (block types always; plain types when rows are 16-byte aligned and
// a multiple of 8 long); otherwise one element per lane step with load1.
template <uint32_t DT, int NT, bool GROUPED>
__global__ void __launch_bounds__(kRowsPerBlock* kWarp)
    matmul_kernel(hearth_tensor w, hearth_tensor x, hearth_tensor dst, int64_t n_tok) {
  wait_for_prior_kernels();
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  if (row >= w.ne[1]) return;  // the whole warp leaves together
  const int64_t t0 = static_cast<int64_t>(blockIdx.y) * NT;
  const int nt = static_cast<int>(n_tok - t0 < NT ? n_tok - t0 : NT);
  const auto* wr = static_cast<const uint8_t*>(w.data) + row * w.nb[1];
  const int64_t n = w.ne[0];

  const float* xr[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t)
    xr[t] = at_offset<const float>(x, flat_row_offset(x, t0 + (t < nt ? t : 0)));

  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.0f;

  if constexpr (GROUPED) {
    for (int64_t g = lane; g < n / 8; g += kWarp) {
      float wv[8];
      load8<DT>(wr, g, wv);
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        if (t < nt) {
          const float* xs = xr[t] + g * 8;
#pragma unroll
          for (int k = 0; k < 8; ++k) acc[t] += wv[k] * xs[k];
        }
      }
    }
  } else {
    for (int64_t i = lane; i < n; i += kWarp) {
      const float wv = load1<DT>(wr, i);
#pragma unroll
      for (int t = 0; t < NT; ++t)
        if (t < nt) acc[t] += wv * xr[t][i];
    }
  }
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    const float sum = warp_sum(acc[t]);
    if (lane == 0 && t < nt) at_offset<float>(dst, flat_row_offset(dst, t0 + t))[row] = sum;
  }
}

template <uint32_t DT, int NT>
void launch_for(const hearth_op& op, int64_t n_tok, bool grouped, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((op.src[0].ne[1] + kRowsPerBlock - 1) / kRowsPerBlock),
                  static_cast<unsigned>((n_tok + NT - 1) / NT));
  const dim3 block(kRowsPerBlock * kWarp);
  if (grouped)
    launch_after_prior(matmul_kernel<DT, NT, true>, grid, block, 0, stream, op.src[0], op.src[1],
                       op.dst, n_tok);
  else if constexpr (!kIsBlockType<DT>)
    launch_after_prior(matmul_kernel<DT, NT, false>, grid, block, 0, stream, op.src[0], op.src[1],
                       op.dst, n_tok);
}

}  // namespace

uint64_t matmul_scratch_bytes(const hearth_op& op) {
  const int64_t n_tok = op.src[1].ne[1] * op.src[1].ne[2] * op.src[1].ne[3];
  uint64_t bytes = 0;
  dispatch_weight_type(op.src[0].dtype, [&]<uint32_t DT>() {
    if (gemv_q8_accepts<DT>(op, n_tok)) bytes = q8_activation_bytes(op.src[0].ne[0], n_tok);
  });
  return bytes;
}

ActivationRounding matmul_activation_rounding(const hearth_op& op) {
  ActivationRounding rounding = ActivationRounding::q8_0_blocks;
  dispatch_weight_type(op.src[0].dtype, [&]<uint32_t DT>() {
    if constexpr (kQ8SuperBlocks<DT>) rounding = ActivationRounding::q8_k_super_blocks;
  });
  return rounding;
}

cudaError_t launch_matmul(const hearth_op& op, void* scratch, uint64_t scratch_bytes,
                          cudaStream_t stream, bool scratch_ready) {
  const hearth_tensor& w = op.src[0];
  const hearth_tensor& x = op.src[1];
  if (w.dtype == HEARTH_DTYPE_CS256) return launch_cs256_matmul(op, stream);
  if (w.dtype == HEARTH_DTYPE_NF4) return launch_nf4_matmul(op, stream);
  const int64_t n_tok = x.ne[1] * x.ne[2] * x.ne[3];
  if (w.ne[1] == 0 || n_tok == 0) return cudaSuccess;
  const bool aligned =
      reinterpret_cast<uintptr_t>(w.data) % 16 == 0 && (w.ne[1] == 1 || w.nb[1] % 16 == 0);
  const bool grouped = w.ne[0] % 8 == 0 && aligned;
  dispatch_weight_type(w.dtype, [&]<uint32_t DT>() {
    if constexpr (kQ8Route<DT>)
      if (scratch && gemv_q8_accepts<DT>(op, n_tok) &&
          scratch_bytes >= q8_activation_bytes(w.ne[0], n_tok))
        return launch_gemv_q8<DT>(op, n_tok, scratch, scratch_ready, stream);
    if (gemv_accepts<DT>(op, n_tok)) return launch_gemv<DT>(op, n_tok, stream);
    const bool use_groups = kIsBlockType<DT> || grouped;
    if (n_tok == 1)
      launch_for<DT, 1>(op, n_tok, use_groups, stream);
    else
      launch_for<DT, kTokensPerPass>(op, n_tok, use_groups, stream);
  });
  return cudaGetLastError();
}

}  // namespace hearth::backend_gpu
