// Row-by-row and elementwise ops: EMBEDDING, RMS_NORM, ROPE, SWIGLU, ADD, MUL, SOFTMAX. Each keeps
// the CPU reference's order of float operations where it matters for agreement (RMS_NORM scale
// then weight, ROPE's theta built by repeated multiplication, SOFTMAX's scale before the max).
#include <cmath>

#include "dequant.cuh"
#include "kernels.hpp"
#include "programmatic_launch.cuh"

namespace hearth::backend_gpu {
namespace {

constexpr int kRowThreads = 256;
constexpr int kWideRowThreads = 1024;  // RMS_NORM of few rows
constexpr int64_t kWideRowsBelow = 64;
constexpr int kElementThreads = 256;

unsigned blocks_for(int64_t n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

// ------------------------------------------------------------------ EMBEDDING

template <uint32_t DT>
__global__ void embedding_kernel(hearth_tensor table, const int32_t* ids, hearth_tensor dst) {
  wait_for_prior_kernels();
  const int64_t t = blockIdx.x;
  const int64_t n = table.ne[0];
  const auto* row = static_cast<const uint8_t*>(table.data) + ids[t] * table.nb[1];
  float* out = at_offset<float>(dst, t * dst.nb[1]);
  if constexpr (kIsBlockType<DT>) {
    for (int64_t g = threadIdx.x; g < n / 8; g += blockDim.x) {
      float w[8];
      load8<DT>(row, g, w);
#pragma unroll
      for (int k = 0; k < 8; ++k) out[g * 8 + k] = w[k];
    }
  } else {
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) out[i] = load1<DT>(row, i);
  }
}

// ------------------------------------------------------------------ RMS_NORM
// ggml's arithmetic: float squares summed in double, the mean rounded to float, y = x * scale,
// then y * weight. The result is rounded to 8 bits by the next quantized MATMUL, where a scale a
// float ulp off moves values across rounding steps; a float sum was off by ulps.

__global__ void rms_norm_kernel(hearth_tensor x, const float* weight, hearth_tensor dst,
                                float eps) {
  wait_for_prior_kernels();
  __shared__ double scratch[kWarp];
  const int64_t r = blockIdx.x;
  const int64_t n = x.ne[0];
  const float* in = at_offset<const float>(x, flat_row_offset(x, r));
  float* out = at_offset<float>(dst, flat_row_offset(dst, r));
  double partial = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
    partial += static_cast<double>(in[i] * in[i]);
  const double sum = block_sum(partial, scratch);
  const float mean = n > 0 ? static_cast<float>(sum / static_cast<double>(n)) : 0.0f;
  const float scale = 1.0f / sqrtf(mean + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    float y = in[i] * scale;
    if (weight) y = y * weight[i];
    out[i] = y;
  }
}

// ------------------------------------------------------------------ ROPE

__global__ void rope_kernel(hearth_tensor x, const int32_t* positions, const float* factors,
                            hearth_tensor dst, int n_rot, bool neox, float theta_scale,
                            float freq_scale) {
  wait_for_prior_kernels();
  const int64_t h = blockIdx.x;
  const int64_t t = blockIdx.y;
  const float* in = at_offset<const float>(x, h * x.nb[1] + t * x.nb[2]);
  float* out = at_offset<float>(dst, h * dst.nb[1] + t * dst.nb[2]);
  const int half = n_rot / 2;
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    float theta = static_cast<float>(positions[t]);
    for (int step = 0; step < i; ++step) theta *= theta_scale;
    const float ff = factors ? factors[i] : 1.0f;
    const float angle = freq_scale * (theta / ff);
    const float c = cosf(angle);
    const float s = sinf(angle);
    const int a = neox ? i : 2 * i;
    const int b = neox ? i + half : 2 * i + 1;
    const float x0 = in[a];
    const float x1 = in[b];
    out[a] = x0 * c - x1 * s;
    out[b] = x0 * s + x1 * c;
  }
  if (out != in)
    for (int64_t d = n_rot + threadIdx.x; d < x.ne[0]; d += blockDim.x) out[d] = in[d];
}

// ------------------------------------------------------------------ SWIGLU, ADD, MUL

enum class Elementwise { kSwiglu, kAdd, kMul };

template <Elementwise E>
__global__ void elementwise_kernel(hearth_tensor a, hearth_tensor b, hearth_tensor dst,
                                   int64_t total) {
  wait_for_prior_kernels();
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= total) return;
  const int64_t i0 = idx % a.ne[0];
  const int64_t r = idx / a.ne[0];
  const int64_t i1 = r % a.ne[1];
  const int64_t i2 = (r / a.ne[1]) % a.ne[2];
  const int64_t i3 = r / (a.ne[1] * a.ne[2]);
  const float x = at_offset<const float>(a, i1 * a.nb[1] + i2 * a.nb[2] + i3 * a.nb[3])[i0];
  const float y = at_offset<const float>(
      b, (i1 % b.ne[1]) * b.nb[1] + (i2 % b.ne[2]) * b.nb[2] + (i3 % b.ne[3]) * b.nb[3])[i0];
  float out;
  if constexpr (E == Elementwise::kSwiglu)
    out = x / (1.0f + expf(-x)) * y;
  else if constexpr (E == Elementwise::kAdd)
    out = x + y;
  else
    out = x * y;
  at_offset<float>(dst, i1 * dst.nb[1] + i2 * dst.nb[2] + i3 * dst.nb[3])[i0] = out;
}

// ------------------------------------------------------------------ SOFTMAX

__global__ void softmax_kernel(hearth_tensor x, hearth_tensor dst, float scale) {
  wait_for_prior_kernels();
  __shared__ float scratch[kWarp];
  const int64_t r = blockIdx.x;
  const int64_t n = x.ne[0];
  const float* in = at_offset<const float>(x, flat_row_offset(x, r));
  float* out = at_offset<float>(dst, flat_row_offset(dst, r));
  float local_max = -INFINITY;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) local_max = fmaxf(local_max, in[i] * scale);
  const float max = block_max(local_max, scratch);
  float partial = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) partial += expf(in[i] * scale - max);
  const float inv = 1.0f / block_sum(partial, scratch);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) out[i] = expf(in[i] * scale - max) * inv;
}

int64_t rows_of(const hearth_tensor& t) { return t.ne[1] * t.ne[2] * t.ne[3]; }

}  // namespace

cudaError_t launch_embedding(const hearth_op& op, cudaStream_t stream) {
  const int64_t n_tok = op.src[1].ne[0];
  if (n_tok == 0 || op.src[0].ne[0] == 0) return cudaSuccess;
  const auto* ids = static_cast<const int32_t*>(op.src[1].data);
  dispatch_weight_type(op.src[0].dtype, [&]<uint32_t DT>() {
    launch_after_prior(embedding_kernel<DT>, static_cast<unsigned>(n_tok), kRowThreads, 0, stream,
                       op.src[0], ids, op.dst);
  });
  return cudaGetLastError();
}

cudaError_t launch_rms_norm(const hearth_op& op, cudaStream_t stream) {
  const int64_t rows = rows_of(op.src[0]);
  if (rows == 0) return cudaSuccess;
  const float* weight = op.n_src == 2 ? static_cast<const float*>(op.src[1].data) : nullptr;
  // A decode step normalizes one row: a wide block shortens its chain of dependent loads
  // (a 256-thread block took ~12 us for 2048-4096 values on the H200, ~5 over launch cost).
  const int threads = rows <= kWideRowsBelow ? kWideRowThreads : kRowThreads;
  launch_after_prior(rms_norm_kernel, static_cast<unsigned>(rows), threads, 0, stream, op.src[0],
                     weight, op.dst, op.fparams[0]);
  return cudaGetLastError();
}

cudaError_t launch_rope(const hearth_op& op, cudaStream_t stream) {
  const hearth_tensor& x = op.src[0];
  if (x.ne[1] == 0 || x.ne[2] == 0) return cudaSuccess;
  const int n_rot = op.iparams[0];
  // As the CPU backend: base^(-2/n_rot) in float, then powers by repeated multiplication.
  const float theta_scale = std::pow(op.fparams[0], -2.0f / static_cast<float>(n_rot));
  const float* factors = op.n_src == 3 ? static_cast<const float*>(op.src[2].data) : nullptr;
  const dim3 grid(static_cast<unsigned>(x.ne[1]), static_cast<unsigned>(x.ne[2]));
  launch_after_prior(rope_kernel, grid, 64, 0, stream, x,
                     static_cast<const int32_t*>(op.src[1].data), factors, op.dst, n_rot,
                     op.iparams[1] == HEARTH_ROPE_NEOX, theta_scale, op.fparams[1]);
  return cudaGetLastError();
}

cudaError_t launch_elementwise(const hearth_op& op, cudaStream_t stream) {
  const int64_t total = op.src[0].ne[0] * rows_of(op.src[0]);
  if (total == 0) return cudaSuccess;
  const unsigned blocks = blocks_for(total, kElementThreads);
  switch (op.kind) {
    case HEARTH_OP_SWIGLU:
      launch_after_prior(elementwise_kernel<Elementwise::kSwiglu>, blocks, kElementThreads, 0,
                         stream, op.src[0], op.src[1], op.dst, total);
      break;
    case HEARTH_OP_ADD:
      launch_after_prior(elementwise_kernel<Elementwise::kAdd>, blocks, kElementThreads, 0, stream,
                         op.src[0], op.src[1], op.dst, total);
      break;
    default:
      launch_after_prior(elementwise_kernel<Elementwise::kMul>, blocks, kElementThreads, 0, stream,
                         op.src[0], op.src[1], op.dst, total);
      break;
  }
  return cudaGetLastError();
}

cudaError_t launch_softmax(const hearth_op& op, cudaStream_t stream) {
  const int64_t rows = rows_of(op.src[0]);
  if (rows == 0 || op.src[0].ne[0] == 0) return cudaSuccess;
  launch_after_prior(softmax_kernel, static_cast<unsigned>(rows), kRowThreads, 0, stream, op.src[0],
                     op.dst, op.fparams[0]);
  return cudaGetLastError();
}

}  // namespace hearth::backend_gpu
