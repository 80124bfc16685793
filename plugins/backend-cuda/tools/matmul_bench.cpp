// Checks and times the backend's MATMUL kernels on Llama-2-7B decode shapes, calling
// launch_matmul (the entry the plugin's run_op uses) directly so the GPU time is measured
// without host launch overhead: each timed run is a CUDA graph of back-to-back MATMULs, cycling
// over enough copies of the weight that none is served from L2 (50 MB on Hopper).
// For every type and shape it prints us/op, GB/s of weight bytes, that as a % of a measured
// device-to-device copy (read + write bytes), and PASS/FAIL of sampled rows against a CPU
// double-precision reference; then PASS/FAIL of small odd shapes with 1..9 tokens. Exit status 1
// if any case failed. Not a ctest: CI has no GPU. The quantized types' decode GEMV rounds the
// activations to q8 blocks of 32 (gemv_kernels.cuh); the reference rounds them the same way
// (q8_rounded), so the check stays at float-rounding tolerance.
// Build (from the repository root; static cudart, so the device needs only the driver), one line:
//   nvcc -std=c++20 -O3 -arch=sm_90 -x cu -I sdk/include -I plugins/backend-cuda
//     plugins/backend-cuda/tools/matmul_bench.cpp plugins/backend-cuda/kernels_matmul.cu
//     plugins/backend-cuda/nf4_matmul.cu plugins/backend-cuda/cs256_matmul.cu -o matmul_bench
// Run: ./matmul_bench          (--quick: correctness only, no timing; --float: no q8 scratch, so
//      the quantized types take the float-decode GEMV, for comparison)
#include <hearth/sdk/abi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels.hpp"

namespace {

using hearth::backend_gpu::matmul_scratch_bytes;

// The q8 scratch every launch shares (null with --float).
void* g_scratch = nullptr;
uint64_t g_scratch_bytes = 0;

cudaError_t launch_matmul(const hearth_op& op, cudaStream_t stream) {
  const uint64_t want = g_scratch ? matmul_scratch_bytes(op) : 0;
  if (want > g_scratch_bytes) {
    std::fprintf(stderr, "bench scratch too small: %llu bytes wanted\n",
                 static_cast<unsigned long long>(want));
    std::exit(2);
  }
  return hearth::backend_gpu::launch_matmul(op, g_scratch, want, stream);
}

bool q8_route(hearth_dtype dt) {
  return dt == HEARTH_DTYPE_Q8_0 || dt == HEARTH_DTYPE_Q4_0 || dt == HEARTH_DTYPE_Q4_K ||
         dt == HEARTH_DTYPE_Q5_K || dt == HEARTH_DTYPE_Q6_K;
}

// x as the q8 route rounds it, written from its description: blocks of 32, d = amax / 127 in
// float, q = roundf(x * (1 / d)), value q * d.
std::vector<double> q8_rounded(const float* x, int64_t n) {
  std::vector<double> r(static_cast<size_t>(n));
  for (int64_t b = 0; b < n / 32; ++b) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; ++j)
      r[32 * b + j] = static_cast<double>(std::round(x[32 * b + j] * id)) * d;
  }
  return r;
}

struct Type {
  const char* name;
  hearth_dtype dt;
  int64_t block_elems, block_bytes;
};

const Type kTypes[] = {
    {"F32", HEARTH_DTYPE_F32, 1, 4},       {"F16", HEARTH_DTYPE_F16, 1, 2},
    {"BF16", HEARTH_DTYPE_BF16, 1, 2},     {"Q8_0", HEARTH_DTYPE_Q8_0, 32, 34},
    {"Q4_0", HEARTH_DTYPE_Q4_0, 32, 18},   {"Q4_K", HEARTH_DTYPE_Q4_K, 256, 144},
    {"Q5_K", HEARTH_DTYPE_Q5_K, 256, 176}, {"Q6_K", HEARTH_DTYPE_Q6_K, 256, 210},
};

bool check_cuda(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  std::fprintf(stderr, "CUDA error in %s: %s\n", what, cudaGetErrorString(e));
  std::exit(2);
}

double f16_value(uint16_t h) {
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  const int e = (h >> 10) & 0x1F, m = h & 0x3FF;
  if (e == 0) return sign * std::ldexp(m, -24);
  return sign * std::ldexp(1024 + m, e - 25);  // exponent 31 never occurs (random_weights)
}
uint16_t u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// Scale and min of sub-block s from the 12 packed bytes q (shared/specs/gguf.md §4.3).
void scale_min(const uint8_t* q, int s, int& sc, int& mn) {
  if (s < 4) {
    sc = q[s] & 63, mn = q[s + 4] & 63;
  } else {
    sc = (q[s + 4] & 0x0F) | ((q[s - 4] >> 6) << 4);
    mn = (q[s + 4] >> 4) | ((q[s] >> 6) << 4);
  }
}

// One weight row in double, written from gguf.md §4, independently of the kernels.
void dequantize_row(hearth_dtype dt, const uint8_t* row, int64_t n, double* out) {
  switch (dt) {
    case HEARTH_DTYPE_F32:
      for (int64_t i = 0; i < n; ++i) {
        float f;
        std::memcpy(&f, row + 4 * i, 4);
        out[i] = f;
      }
      return;
    case HEARTH_DTYPE_F16:
      for (int64_t i = 0; i < n; ++i) out[i] = f16_value(u16(row + 2 * i));
      return;
    case HEARTH_DTYPE_BF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint32_t bits = static_cast<uint32_t>(u16(row + 2 * i)) << 16;
        float f;
        std::memcpy(&f, &bits, 4);
        out[i] = f;
      }
      return;
    case HEARTH_DTYPE_Q8_0:
      for (int64_t b = 0; b < n / 32; ++b) {
        const uint8_t* blk = row + 34 * b;
        for (int j = 0; j < 32; ++j)
          out[32 * b + j] = static_cast<int8_t>(blk[2 + j]) * f16_value(u16(blk));
      }
      return;
    case HEARTH_DTYPE_Q4_0:
      for (int64_t b = 0; b < n / 32; ++b) {
        const uint8_t* blk = row + 18 * b;
        for (int j = 0; j < 32; ++j) {
          const int q = j < 16 ? blk[2 + j] & 0x0F : blk[2 + j - 16] >> 4;
          out[32 * b + j] = (q - 8) * f16_value(u16(blk));
        }
      }
      return;
    case HEARTH_DTYPE_Q4_K:
    case HEARTH_DTYPE_Q5_K: {
      const bool q5 = dt == HEARTH_DTYPE_Q5_K;
      for (int64_t b = 0; b < n / 256; ++b) {
        const uint8_t* blk = row + (q5 ? 176 : 144) * b;
        const double d = f16_value(u16(blk)), dmin = f16_value(u16(blk + 2));
        for (int e = 0; e < 256; ++e) {
          const int c = e / 64, t = (e / 32) % 2, l = e % 32, s = 2 * c + t;
          const uint8_t byte = blk[(q5 ? 48 : 16) + 32 * c + l];
          int q = t ? byte >> 4 : byte & 0x0F;
          if (q5) q += 16 * ((blk[16 + l] >> s) & 1);
          int sc, mn;
          scale_min(blk + 4, s, sc, mn);
          out[256 * b + e] = d * sc * q - dmin * mn;
        }
      }
      return;
    }
    case HEARTH_DTYPE_Q6_K:
      for (int64_t b = 0; b < n / 256; ++b) {
        const uint8_t* blk = row + 210 * b;
        const double d = f16_value(u16(blk + 208));
        for (int e = 0; e < 256; ++e) {
          const int h = e / 128, k = (e / 32) % 4, l = e % 32;
          const uint8_t lo_byte = blk[64 * h + (k % 2) * 32 + l];
          const int lo = k < 2 ? lo_byte & 0x0F : lo_byte >> 4;
          const int hi = (blk[128 + 32 * h + l] >> (2 * k)) & 3;
          out[256 * b + e] = d * static_cast<int8_t>(blk[192 + e / 16]) * ((lo | hi << 4) - 32);
        }
      }
      return;
    default:
      std::fprintf(stderr, "no reference for dtype %d\n", static_cast<int>(dt));
      std::exit(2);
  }
}

hearth_tensor tensor(void* data, hearth_dtype dt, int64_t ne0, int64_t ne1, int64_t row_bytes) {
  hearth_tensor t{};
  t.data = data;
  t.dtype = dt;
  t.n_dims = 2;
  t.ne[0] = ne0, t.ne[1] = ne1, t.ne[2] = 1, t.ne[3] = 1;
  t.nb[0] = dt == HEARTH_DTYPE_F32                                ? 4
            : (dt == HEARTH_DTYPE_F16 || dt == HEARTH_DTYPE_BF16) ? 2
                                                                  : 0;
  t.nb[1] = row_bytes, t.nb[2] = row_bytes * ne1, t.nb[3] = t.nb[2];
  return t;
}

hearth_op matmul_op(void* w, const Type& t, int64_t n_in, int64_t n_out, void* x, void* y,
                    int64_t n_tok) {
  hearth_op op{};
  op.struct_size = sizeof op;
  op.kind = HEARTH_OP_MATMUL;
  op.dst = tensor(y, HEARTH_DTYPE_F32, n_out, n_tok, n_out * 4);
  op.src[0] = tensor(w, t.dt, n_in, n_out, n_in / t.block_elems * t.block_bytes);
  op.src[1] = tensor(x, HEARTH_DTYPE_F32, n_in, n_tok, n_in * 4);
  op.n_src = 2;
  return op;
}

// Random weight bytes for type t, with the fields read as f16 (every element of F16, the high
// halves of BF16/F32 elements, the block scales) kept finite and below 1.
void random_weights(const Type& t, std::vector<uint8_t>& bytes, std::mt19937_64& rng) {
  for (size_t i = 0; i + 8 <= bytes.size(); i += 8) {
    const uint64_t v = rng();
    std::memcpy(bytes.data() + i, &v, 8);
  }
  const auto tame = [&](size_t high_byte) { bytes[high_byte] &= 0x3B; };
  const size_t bb = static_cast<size_t>(t.block_bytes);
  for (size_t b = 0; b + bb <= bytes.size(); b += bb) switch (t.dt) {
      case HEARTH_DTYPE_F32:
        tame(b + 3);
        break;
      case HEARTH_DTYPE_F16:
      case HEARTH_DTYPE_BF16:
      case HEARTH_DTYPE_Q8_0:
      case HEARTH_DTYPE_Q4_0:
        tame(b + 1);
        break;
      case HEARTH_DTYPE_Q4_K:
      case HEARTH_DTYPE_Q5_K:
        tame(b + 1), tame(b + 3);
        break;
      default:  // Q6_K: d is last
        tame(b + 209);
    }
}

// Compares sampled rows of y (n_out x n_tok, device) with the reference. The bound is float
// rounding of a length-n_in dot product (plus the weight decode's few roundings).
bool check_rows(const Type& t, const uint8_t* host_w, int64_t n_in, int64_t n_out,
                const std::vector<float>& host_x, int64_t n_tok, const float* dev_y,
                int64_t max_rows, double& worst) {
  std::vector<float> y(static_cast<size_t>(n_out * n_tok));
  check_cuda(cudaMemcpy(y.data(), dev_y, y.size() * 4, cudaMemcpyDeviceToHost), "copy back");
  const int64_t row_bytes = n_in / t.block_elems * t.block_bytes;
  const int64_t step = std::max<int64_t>(1, n_out / max_rows);
  std::vector<double> wrow(static_cast<size_t>(n_in));
  bool ok = true;
  worst = 0.0;
  std::vector<int64_t> rows;
  for (int64_t o = 0; o < n_out; o += step) rows.push_back(o);
  if (rows.back() != n_out - 1) rows.push_back(n_out - 1);
  // What the kernel multiplies: x itself, or x rounded to q8 blocks on the q8 route.
  const bool rounded = g_scratch && q8_route(t.dt) && n_tok <= 8;
  std::vector<double> xs(static_cast<size_t>(n_in * n_tok));
  for (int64_t tok = 0; tok < n_tok; ++tok) {
    const float* xt = host_x.data() + tok * n_in;
    if (rounded) {
      const auto r = q8_rounded(xt, n_in);
      std::copy(r.begin(), r.end(), xs.begin() + tok * n_in);
    } else {
      std::copy(xt, xt + n_in, xs.begin() + tok * n_in);
    }
  }
  for (const int64_t o : rows) {
    dequantize_row(t.dt, host_w + o * row_bytes, n_in, wrow.data());
    for (int64_t tok = 0; tok < n_tok; ++tok) {
      double sum = 0.0, magnitude = 0.0;
      for (int64_t i = 0; i < n_in; ++i) {
        const double p = wrow[i] * xs[tok * n_in + i];
        sum += p, magnitude += std::fabs(p);
      }
      const double tolerance = magnitude * static_cast<double>(n_in + 8) * 0x1p-24;
      const double err = std::fabs(y[tok * n_out + o] - sum);
      worst = std::max(worst, tolerance > 0 ? err / tolerance : err);
      if (!(err <= tolerance)) ok = false;
    }
  }
  return ok;
}

// The bandwidth yardstick: a plain 16-byte-per-thread copy, as a bandwidth-bound kernel would
// stream (cudaMemcpy inside a graph measured well below it).
__global__ void copy_kernel(const uint4* src, uint4* dst, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x)
    dst[i] = src[i];
}

struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(size_t bytes) { check_cuda(cudaMalloc(&p, bytes), "cudaMalloc"); }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

// Mean GPU time in us of one launch of f(i), i cycling through 0..n_launches-1, from a graph.
template <class F>
double time_graph(cudaStream_t stream, int n_launches, F&& f) {
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  check_cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "capture");
  for (int i = 0; i < n_launches; ++i) f(i);
  check_cuda(cudaStreamEndCapture(stream, &graph), "end capture");
  check_cuda(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  for (int i = 0; i < 3; ++i) check_cuda(cudaGraphLaunch(exec, stream), "warm-up");
  cudaEvent_t start, stop;
  cudaEventCreate(&start), cudaEventCreate(&stop);
  constexpr int kReps = 10;
  cudaEventRecord(start, stream);
  for (int i = 0; i < kReps; ++i) check_cuda(cudaGraphLaunch(exec, stream), "graph launch");
  cudaEventRecord(stop, stream);
  check_cuda(cudaEventSynchronize(stop), "timed graphs");
  float ms = 0.0f;
  cudaEventElapsedTime(&ms, start, stop);
  cudaEventDestroy(start), cudaEventDestroy(stop);
  cudaGraphExecDestroy(exec), cudaGraphDestroy(graph);
  return ms * 1e3 / (kReps * n_launches);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, use_q8 = true;
  for (int a = 1; a < argc; ++a) {
    if (std::strcmp(argv[a], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[a], "--float") == 0) {
      use_q8 = false;
    } else {
      std::fprintf(stderr, "unknown argument %s (use --quick and/or --float)\n", argv[a]);
      return 2;
    }
  }
  cudaDeviceProp prop{};
  check_cuda(cudaGetDeviceProperties(&prop, 0), "device properties");
  std::printf("device: %s, %d SMs, L2 %d MiB\n", prop.name, prop.multiProcessorCount,
              prop.l2CacheSize >> 20);
  cudaStream_t stream;
  check_cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
  std::mt19937_64 rng(7);
  int failures = 0;

  double copy_gbs = 0.0;
  if (!quick) {  // read + write bytes of a 1 GiB device-to-device copy
    const size_t bytes = size_t{1} << 30;
    DeviceBuffer a(bytes), b(bytes);
    const double us = time_graph(stream, 4, [&](int) {
      copy_kernel<<<prop.multiProcessorCount * 8, 256, 0, stream>>>(
          static_cast<const uint4*>(a.p), static_cast<uint4*>(b.p), bytes / 16);
      check_cuda(cudaGetLastError(), "copy kernel");
    });
    copy_gbs = 2.0 * bytes / us / 1e3;
    std::printf("device-to-device copy: %.0f GB/s (read + write)\n\n", copy_gbs);
  }

  struct Shape {
    int64_t n_in, n_out;
    const char* what;
  };
  const Shape shapes[] = {{4096, 4096, "attn q/k/v/o"},
                          {4096, 11008, "ffn gate/up"},
                          {11008, 4096, "ffn down"},
                          {4096, 32000, "lm head"}};
  const int64_t max_in = 11008, max_tok = 8;
  std::vector<float> host_x(static_cast<size_t>(max_in * max_tok));
  std::normal_distribution<float> normal;
  for (auto& v : host_x) v = normal(rng);
  DeviceBuffer x(host_x.size() * 4), y(static_cast<size_t>(32000 * max_tok * 4));
  check_cuda(cudaMemcpy(x.p, host_x.data(), host_x.size() * 4, cudaMemcpyHostToDevice), "x");
  std::vector<uint8_t> host_w(size_t{4096} * 32000 * 4);  // the largest weight (F32 head)
  // q8 activations of the widest input and most tokens: 1.5 bytes per value.
  DeviceBuffer scratch(static_cast<size_t>(max_in * max_tok * 3 / 2));
  if (use_q8) g_scratch = scratch.p, g_scratch_bytes = max_in * max_tok * 3 / 2;
  std::printf("quantized types: %s\n\n",
              use_q8 ? "q8-activation GEMV (dp4a)" : "float-decode GEMV (--float)");

  std::printf("%-5s %-13s %6s %8s %4s %9s %8s %7s %6s %s\n", "type", "shape", "n_out", "MiB", "tok",
              "us/op", "GB/s", "%copy", "check", "(worst err/tolerance)");
  for (const Type& t : kTypes) {
    random_weights(t, host_w, rng);
    for (const Shape& s : shapes) {
      if (quick) break;
      const int64_t row_bytes = s.n_in / t.block_elems * t.block_bytes;
      const size_t wbytes = static_cast<size_t>(row_bytes * s.n_out);
      // Enough copies that one pass over them is 4x the L2: every launch reads from HBM.
      const size_t l2 = static_cast<size_t>(prop.l2CacheSize);
      const int copies = static_cast<int>(std::max<size_t>(2, (4 * l2 + wbytes - 1) / wbytes));
      DeviceBuffer w(wbytes * copies);
      for (int c = 0; c < copies; ++c)
        check_cuda(cudaMemcpy(static_cast<uint8_t*>(w.p) + c * wbytes, host_w.data(), wbytes,
                              cudaMemcpyHostToDevice),
                   "weights");
      for (int64_t n_tok : {int64_t{1}, int64_t{4}}) {
        const hearth_op op0 = matmul_op(w.p, t, s.n_in, s.n_out, x.p, y.p, n_tok);
        check_cuda(cudaMemsetAsync(y.p, 0xFF, s.n_out * n_tok * 4, stream), "memset");
        check_cuda(launch_matmul(op0, stream), "launch_matmul");
        check_cuda(cudaStreamSynchronize(stream), "matmul");
        double worst = 0.0;
        const bool ok = check_rows(t, host_w.data(), s.n_in, s.n_out, host_x, n_tok,
                                   static_cast<float*>(y.p), 64, worst);
        failures += !ok;
        const int launches = std::max(copies, 20);
        const double us = time_graph(stream, launches, [&](int i) {
          const hearth_op op = matmul_op(static_cast<uint8_t*>(w.p) + (i % copies) * wbytes, t,
                                         s.n_in, s.n_out, x.p, y.p, n_tok);
          check_cuda(launch_matmul(op, stream), "launch_matmul");
        });
        const double gbs = wbytes / us / 1e3;
        std::printf("%-5s %-13s %6lld %8.1f %4lld %9.2f %8.0f %6.1f%% %6s (%.3f)\n", t.name, s.what,
                    static_cast<long long>(s.n_out), wbytes / 1048576.0,
                    static_cast<long long>(n_tok), us, gbs, 100.0 * gbs / copy_gbs,
                    ok ? "PASS" : "FAIL", worst);
      }
    }
    // Odd shapes: every token count the decode kernels specialise, row counts that leave partial
    // thread blocks, the smallest rows of each type (and plain rows of 43); all rows checked.
    const int64_t unit = t.block_elems == 1 ? 8 : t.block_elems;
    int bad = 0, cases = 0;
    double worst_all = 0.0;
    for (int64_t n_in : {unit, 3 * unit, 5 * unit + (t.block_elems == 1 ? 3 : 0)})
      for (int64_t n_out : {int64_t{1}, int64_t{5}, int64_t{67}})
        for (int64_t n_tok = 1; n_tok <= 9; ++n_tok) {
          const int64_t row_bytes = n_in / t.block_elems * t.block_bytes;
          DeviceBuffer w(static_cast<size_t>(row_bytes * n_out));
          check_cuda(cudaMemcpy(w.p, host_w.data(), row_bytes * n_out, cudaMemcpyHostToDevice),
                     "weights");
          const hearth_op op = matmul_op(w.p, t, n_in, n_out, x.p, y.p, n_tok);
          check_cuda(cudaMemsetAsync(y.p, 0xFF, n_out * n_tok * 4, stream), "memset");
          check_cuda(launch_matmul(op, stream), "launch_matmul");
          check_cuda(cudaStreamSynchronize(stream), "matmul");
          // The reference reads x as n_tok rows of n_in: lay host_x out that way for it.
          std::vector<float> xt(static_cast<size_t>(n_in * n_tok));
          std::copy(host_x.begin(), host_x.begin() + xt.size(), xt.begin());
          double worst = 0.0;
          ++cases;
          if (!check_rows(t, host_w.data(), n_in, n_out, xt, n_tok, static_cast<float*>(y.p), n_out,
                          worst))
            ++bad;
          worst_all = std::max(worst_all, worst);
        }
    failures += bad;
    std::printf("%-5s odd shapes, n_tok 1..9: %3d cases %s (worst err/tolerance %.3f)\n", t.name,
                cases, bad ? "FAIL" : "PASS", worst_all);
  }
  cudaStreamDestroy(stream);
  std::printf("\n%s: %d failing case(s)\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}
