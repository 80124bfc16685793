// cs256_bench: correctness and speed of the CS256 MATMUL kernels (cs256_matmul.cu), standalone.
// It builds CS256 blobs on the host (the layout of plugins/format-cs256/README.md, offsets from
// abi.h's hearth_cs256_compute_layout), checks every kernel against a double-precision CPU
// product written here from the spec, then times them on Llama-2-7B-shaped layers at 50/66/75 %
// sparsity against a dense F16 GEMV (our own kernel and, when libcublas can be loaded, cuBLAS
// GemmEx) and against the copy bandwidth of the device. The dense decoder of the cuBLAS prefill
// route (cs256_dequantize.cu) is checked bit for bit against format-cs256's own CPU expansion
// (linked in), rounded to F16/BF16, and timed alone and in front of a 512-token GEMM. No
// arguments; exit status 1 on any FAIL.
//
// Conventions: a kernel's bytes are what it must read from memory at least (the whole blob or
// dense matrix, the activations) plus what it writes; GB/s = bytes / median time. Copy bandwidth
// counts read + write bytes of a 1 GiB copy. Times are medians of 25 timed repetitions; each
// repetition runs the kernel once on each of several copies of the weights (more than 512 MiB in
// all) so the weights come from DRAM, not from the 50+ MiB L2.
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "../cs256_dequantize.hpp"
#include "../cs256_layout.cuh"
#include "../cs256_matmul.hpp"
#include "cs256_codec.hpp"  // format-cs256's encoder and CPU dense expansion

namespace {

using hearth::backend_gpu::Cs256Kernel;

int g_failures = 0;  // counts FAIL lines; main's exit status

void check_cuda(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  std::fprintf(stderr, "cs256_bench: CUDA error in %s: %s (%s)\n", what, cudaGetErrorName(status),
               cudaGetErrorString(status));
  std::exit(2);
}

// Device memory owned by one object.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    check_cuda(cudaMalloc(&ptr_, bytes == 0 ? 1 : bytes), "cudaMalloc");
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&&) = delete;
  ~DeviceBuffer() {
    if (ptr_ != nullptr) static_cast<void>(cudaFree(ptr_));
  }
  template <class T = void>
  T* get() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }
  void upload(const void* src, size_t bytes) {
    check_cuda(cudaMemcpy(ptr_, src, bytes, cudaMemcpyHostToDevice), "upload");
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// splitmix64: reproducible data without <random>'s distribution differences between libraries.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) / static_cast<float>(1 << 24); }
  float symmetric() { return 2.0f * uniform() - 1.0f; }
  uint32_t below(uint32_t k) { return static_cast<uint32_t>(next() % k); }

 private:
  uint64_t s_;
};

uint16_t f16_bits(float f) {
  const __half h = __float2half_rn(f);
  __half_raw r = h;
  return r.x;
}
float f16_value(uint16_t bits) {
  __half_raw r;
  r.x = bits;
  return __half2float(__half(r));
}
uint16_t bf16_bits(float f) {  // round to nearest even; inputs here are finite
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
float bf16_value(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// A CS256 matrix on the host, array by array (spec §1).
struct HostCs256 {
  uint32_t m = 0, n = 0, vec = 8, value_dtype = HEARTH_DTYPE_F16;
  bool wide = false;
  std::vector<uint32_t> row_ptr{0};
  std::vector<uint16_t> counts;  // m * blk_offset
  std::vector<uint8_t> idx;
  std::vector<uint16_t> v16;  // F16 / BF16 bits
  std::vector<int8_t> q;      // I8
  std::vector<float> scales;  // I8, per row

  uint32_t blk_per_row() const { return (n + 255) / 256; }
  uint32_t blk_offset() const { return (blk_per_row() + 3) / 4 * 4; }
  uint64_t nnz() const { return idx.size(); }
  float value(uint64_t k, uint32_t row) const {
    if (value_dtype == HEARTH_DTYPE_F16) return f16_value(v16[k]);
    if (value_dtype == HEARTH_DTYPE_BF16) return bf16_value(v16[k]);
    return scales[row] * static_cast<float>(q[k]);
  }
};

hearth_cs256_header header_of(const HostCs256& s) {
  hearth_cs256_header h{};
  h.magic = HEARTH_CS256_MAGIC;
  h.version = HEARTH_CS256_VERSION;
  h.m = s.m;
  h.n = s.n;
  h.vec = s.vec;
  h.value_dtype = s.value_dtype;
  h.flags = s.wide ? HEARTH_CS256_FLAG_WIDE : 0u;
  h.blk_offset = s.blk_offset();
  h.nnz = s.nnz();
  return h;
}

std::vector<uint8_t> serialize(const HostCs256& s) {
  hearth_cs256_header h = header_of(s);
  hearth_cs256_layout l{};
  if (hearth_cs256_compute_layout(&h, &l) == 0) {
    std::fprintf(stderr, "cs256_bench: internal error: layout refused for %ux%u\n", s.m, s.n);
    std::exit(2);
  }
  h.total_bytes = l.total_bytes;
  std::vector<uint8_t> blob(l.total_bytes, 0);
  std::memcpy(blob.data(), &h, sizeof h);
  std::memcpy(blob.data() + l.row_pointers, s.row_ptr.data(), s.row_ptr.size() * 4);
  for (size_t k = 0; k < s.counts.size(); ++k) {
    if (s.wide)
      std::memcpy(blob.data() + l.increments + 2 * k, &s.counts[k], 2);
    else
      blob[l.increments + k] = static_cast<uint8_t>(s.counts[k]);
  }
  std::memcpy(blob.data() + l.indices, s.idx.data(), s.idx.size());
  if (s.value_dtype == HEARTH_DTYPE_I8) {
    std::memcpy(blob.data() + l.values, s.q.data(), s.q.size());
    std::memcpy(blob.data() + l.scales, s.scales.data(), s.scales.size() * 4);
  } else {
    std::memcpy(blob.data() + l.values, s.v16.data(), s.v16.size() * 2);
  }
  return blob;
}

// y[t][i] = sum over row i's entries of W[i][c] * x[t][c], in double (the reference).
std::vector<double> reference(const HostCs256& s, const std::vector<float>& x, int n_tok,
                              std::vector<double>* abs_sum) {
  std::vector<double> y(static_cast<size_t>(n_tok) * s.m, 0.0);
  if (abs_sum != nullptr) abs_sum->assign(y.size(), 0.0);
  for (uint32_t i = 0; i < s.m; ++i) {
    uint64_t k = s.row_ptr[i];
    for (uint32_t t = 0; t < s.blk_per_row(); ++t) {
      const uint32_t c = s.counts[static_cast<size_t>(i) * s.blk_offset() + t];
      for (uint32_t e = 0; e < c; ++e, ++k) {
        const uint64_t col = 256ull * t + s.idx[k];
        const double w = s.value(k, i);
        for (int tok = 0; tok < n_tok; ++tok) {
          const double p = w * x[static_cast<size_t>(tok) * s.n + col];
          y[static_cast<size_t>(tok) * s.m + i] += p;
          if (abs_sum != nullptr) (*abs_sum)[static_cast<size_t>(tok) * s.m + i] += std::fabs(p);
        }
      }
    }
  }
  return y;
}

// Appends one tile: cols ascending, distinct unless padding (zero values) repeats.
void append_tile(HostCs256& s, const std::vector<uint32_t>& cols, Rng& rng) {
  for (uint32_t c : cols) {
    s.idx.push_back(static_cast<uint8_t>(c));
    const float v = rng.symmetric();
    if (s.value_dtype == HEARTH_DTYPE_F16) s.v16.push_back(f16_bits(v));
    if (s.value_dtype == HEARTH_DTYPE_BF16) s.v16.push_back(bf16_bits(v));
    if (s.value_dtype == HEARTH_DTYPE_I8)
      s.q.push_back(static_cast<int8_t>(static_cast<int>(rng.below(255)) - 127));
  }
}

// A random matrix obeying the format: each tile keeps vec * k random columns (k random), and
// in `wide` matrices about one tile in eight is full (256 entries). With empty_every > 0, every
// empty_every-th row stores nothing.
HostCs256 random_matrix(uint32_t m, uint32_t n, uint32_t vec, uint32_t dtype, bool wide,
                        uint64_t seed, uint32_t empty_every = 0) {
  Rng rng(seed);
  HostCs256 s;
  s.m = m;
  s.n = n;
  s.vec = vec;
  s.value_dtype = dtype;
  s.wide = wide;
  s.counts.assign(static_cast<size_t>(m) * s.blk_offset(), 0);
  std::vector<uint32_t> perm(256);
  for (uint32_t i = 0; i < m; ++i) {
    for (uint32_t t = 0; t < s.blk_per_row(); ++t) {
      const uint32_t width = std::min(256u, n - 256 * t);
      const uint32_t cap = wide ? width : std::min(width, 248u);
      uint32_t count = vec * rng.below(cap / vec + 1);
      if (wide && width == 256 && rng.below(8) == 0) count = 256;
      if (empty_every > 0 && i % empty_every == empty_every - 1) count = 0;
      for (uint32_t c = 0; c < width; ++c) perm[c] = c;
      for (uint32_t c = 0; c < count; ++c) std::swap(perm[c], perm[c + rng.below(width - c)]);
      std::vector<uint32_t> cols(perm.begin(), perm.begin() + count);
      std::sort(cols.begin(), cols.end());
      append_tile(s, cols, rng);
      s.counts[static_cast<size_t>(i) * s.blk_offset() + t] = static_cast<uint16_t>(count);
    }
    s.row_ptr.push_back(static_cast<uint32_t>(s.idx.size()));
    if (dtype == HEARTH_DTYPE_I8) s.scales.push_back(0.001f + 0.01f * rng.uniform());
  }
  return s;
}

std::vector<float> random_activations(uint32_t n, int n_tok, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(static_cast<size_t>(n) * n_tok);
  // F16-representable, so cuBLAS (which takes F16 activations) sees the same inputs.
  for (float& v : x) v = f16_value(f16_bits(rng.symmetric()));
  return x;
}

hearth_op matmul_op(const void* blob, uint32_t m, uint32_t n, const float* x, float* y,
                    int64_t n_tok) {
  hearth_op op{};
  op.struct_size = sizeof(hearth_op);
  op.kind = HEARTH_OP_MATMUL;
  op.n_src = 2;
  hearth_tensor& w = op.src[0];
  w.data = const_cast<void*>(blob);
  w.dtype = HEARTH_DTYPE_CS256;
  w.n_dims = 2;
  w.ne[0] = n;
  w.ne[1] = m;
  w.ne[2] = w.ne[3] = 1;
  hearth_tensor& a = op.src[1];
  a.data = const_cast<float*>(x);
  a.dtype = HEARTH_DTYPE_F32;
  a.n_dims = 2;
  a.ne[0] = n;
  a.ne[1] = n_tok;
  a.ne[2] = a.ne[3] = 1;
  a.nb[0] = 4;
  a.nb[1] = 4ll * n;
  a.nb[2] = a.nb[3] = a.nb[1] * n_tok;
  hearth_tensor& d = op.dst;
  d.data = y;
  d.dtype = HEARTH_DTYPE_F32;
  d.n_dims = 2;
  d.ne[0] = m;
  d.ne[1] = n_tok;
  d.ne[2] = d.ne[3] = 1;
  d.nb[0] = 4;
  d.nb[1] = 4ll * m;
  d.nb[2] = d.nb[3] = d.nb[1] * n_tok;
  return op;
}

const char* kernel_name(Cs256Kernel k) {
  switch (k) {
    case Cs256Kernel::kSpmvQuad:
      return "spmv-quad(4 lanes)";
    case Cs256Kernel::kSpmvWide:
      return "spmv-wide(16 lanes)";
    case Cs256Kernel::kSpmm8Quad:
      return "spmm8-quad(8 tok)";
    case Cs256Kernel::kSpmvWarp:
      return "spmv-warp(U4)";
    case Cs256Kernel::kSpmvWarpLight:
      return "spmv-warp-light(U2)";
    case Cs256Kernel::kSpmvWarpResident:
      return "spmv-warp-resident";
    case Cs256Kernel::kSpmmWarp2:
      return "spmm-warp(2 tok)";
    case Cs256Kernel::kSpmmWarp4:
      return "spmm-warp(4 tok)";
    case Cs256Kernel::kSpmmWarp8:
      return "spmm-warp(8 tok)";
  }
  return "?";
}
constexpr Cs256Kernel kAllKernels[] = {
    Cs256Kernel::kSpmvQuad,  Cs256Kernel::kSpmvWide,      Cs256Kernel::kSpmm8Quad,
    Cs256Kernel::kSpmvWarp,  Cs256Kernel::kSpmvWarpLight, Cs256Kernel::kSpmvWarpResident,
    Cs256Kernel::kSpmmWarp2, Cs256Kernel::kSpmmWarp4,     Cs256Kernel::kSpmmWarp8};

// Token counts a kernel is timed at: one pass of it, and 8 tokens for the multi-token ones.
std::vector<int> timed_tokens(Cs256Kernel k) {
  switch (k) {
    case Cs256Kernel::kSpmm8Quad:
    case Cs256Kernel::kSpmmWarp8:
      return {8};
    case Cs256Kernel::kSpmmWarp4:
      return {4, 8};
    case Cs256Kernel::kSpmmWarp2:
      return {2, 8};
    default:
      return {1};
  }
}
constexpr int kTimedTokenCounts[] = {1, 2, 4, 8};
constexpr int kPrefillTokens = 512;  // the cuBLAS route's rows (pp512)

void report(bool pass, const std::string& what, const std::string& detail) {
  std::printf("%s  %s%s%s\n", pass ? "PASS" : "FAIL", what.c_str(), detail.empty() ? "" : ": ",
              detail.c_str());
  if (!pass) ++g_failures;
}

// Compares y (device result) with the reference within fp32-accumulation tolerance:
// |y - ref| <= 1e-6 + 4 eps (terms + 8) sum|w x|, terms = the row's entry count.
bool compare(const HostCs256* s, const std::vector<float>& y, const std::vector<double>& ref,
             const std::vector<double>& abs_sum, uint32_t m, uint32_t n, std::string& detail) {
  double worst = 0.0;
  for (size_t k = 0; k < y.size(); ++k) {
    const size_t row = k % m;
    const double terms = s != nullptr ? static_cast<double>(s->row_ptr[row + 1] - s->row_ptr[row])
                                      : static_cast<double>(n);
    const double tol = 1e-6 + 4.0 * 1.1920929e-7 * (terms + 8.0) * abs_sum[k];
    const double err = std::fabs(static_cast<double>(y[k]) - ref[k]);
    if (!(err <= tol)) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "output %zu (row %zu): got %.9g, want %.9g (tolerance %.3g)",
                    k, row, static_cast<double>(y[k]), ref[k], tol);
      detail = buf;
      return false;
    }
    worst = std::max(worst, tol > 0 ? err / tol : 0.0);
  }
  char buf[80];
  std::snprintf(buf, sizeof buf, "max error %.3f of tolerance", worst);
  detail = buf;
  return true;
}

std::vector<float> run_kernel(Cs256Kernel kernel, const DeviceBuffer& blob, uint32_t m, uint32_t n,
                              const DeviceBuffer& x, int n_tok) {
  DeviceBuffer y(static_cast<size_t>(m) * n_tok * 4);
  check_cuda(cudaMemset(y.get(), 0xFF, y.bytes()), "cudaMemset");  // NaN where nothing writes
  const hearth_op op = matmul_op(blob.get(), m, n, x.get<float>(), y.get<float>(), n_tok);
  check_cuda(hearth::backend_gpu::launch_cs256_matmul_with(kernel, op, nullptr), "kernel launch");
  check_cuda(cudaDeviceSynchronize(), "kernel run");
  std::vector<float> out(static_cast<size_t>(m) * n_tok);
  check_cuda(cudaMemcpy(out.data(), y.get(), y.bytes(), cudaMemcpyDeviceToHost), "download");
  return out;
}

void check_matrix(const std::string& name, const HostCs256& s) {
  const std::vector<uint8_t> blob = serialize(s);
  // The kernels' device-side layout must match abi.h's.
  hearth_cs256_header h = header_of(s);
  hearth_cs256_layout sdk{};
  hearth_cs256_compute_layout(&h, &sdk);
  const auto ours = hearth::backend_gpu::cs256::layout_of(h);
  report(ours.ok && ours.row_pointers == sdk.row_pointers && ours.increments == sdk.increments &&
             ours.indices == sdk.indices && ours.values == sdk.values &&
             ours.scales == sdk.scales && ours.total_bytes == sdk.total_bytes,
         name + " layout_of == hearth_cs256_compute_layout", "");
  DeviceBuffer d_blob(blob.size());
  d_blob.upload(blob.data(), blob.size());
  for (int n_tok : {1, 3, 8, 11}) {
    const std::vector<float> x = random_activations(s.n, n_tok, 1000 + n_tok);
    DeviceBuffer d_x(x.size() * 4);
    d_x.upload(x.data(), x.size() * 4);
    std::vector<double> abs_sum;
    const std::vector<double> ref = reference(s, x, n_tok, &abs_sum);
    for (Cs256Kernel k : kAllKernels) {
      if (!hearth::backend_gpu::cs256_kernel_takes(k, s.n)) continue;  // checked below
      std::string detail;
      const bool ok =
          compare(&s, run_kernel(k, d_blob, s.m, s.n, d_x, n_tok), ref, abs_sum, s.m, s.n, detail);
      report(ok, name + " " + kernel_name(k) + " n_tok=" + std::to_string(n_tok), detail);
    }
  }
  // A kernel that does not take n_in refuses before launching anything.
  for (Cs256Kernel k : kAllKernels) {
    if (hearth::backend_gpu::cs256_kernel_takes(k, s.n)) continue;
    DeviceBuffer d_x(static_cast<size_t>(s.n) * 4), d_y(static_cast<size_t>(s.m) * 4);
    const hearth_op op = matmul_op(d_blob.get(), s.m, s.n, d_x.get<float>(), d_y.get<float>(), 1);
    report(hearth::backend_gpu::launch_cs256_matmul_with(k, op, nullptr) == cudaErrorInvalidValue,
           name + " " + kernel_name(k) + " refuses n_in " + std::to_string(s.n), "");
  }
}

void correctness_cases() {
  std::printf("== correctness: every kernel vs a double-precision CPU product ==\n");
  check_matrix("64x256 f16 vec8", random_matrix(64, 256, 8, HEARTH_DTYPE_F16, false, 1));
  check_matrix("100x1000 f16 vec8", random_matrix(100, 1000, 8, HEARTH_DTYPE_F16, false, 2));
  check_matrix("37x4100 bf16 vec4", random_matrix(37, 4100, 4, HEARTH_DTYPE_BF16, false, 3));
  check_matrix("130x5000 i8 vec16", random_matrix(130, 5000, 16, HEARTH_DTYPE_I8, false, 4));
  check_matrix("33x600 f16 vec8 wide", random_matrix(33, 600, 8, HEARTH_DTYPE_F16, true, 5));
  check_matrix("1x100 f16 vec4", random_matrix(1, 100, 4, HEARTH_DTYPE_F16, false, 6));
  check_matrix("300x8192 f16 vec8", random_matrix(300, 8192, 8, HEARTH_DTYPE_F16, false, 7));
  // The warp-row kernels: counts that no vector width divides (their 1-entry path), rows of
  // 33..48 tiles (a lane's second tile), more rows than one wave of resident blocks (the
  // resident variant's grid stride), and inputs past their 48-tile limit (refused).
  check_matrix("37x700 f16 vec1", random_matrix(37, 700, 1, HEARTH_DTYPE_F16, false, 10));
  check_matrix("70x12288 bf16 vec8", random_matrix(70, 12288, 8, HEARTH_DTYPE_BF16, false, 11));
  check_matrix("45x11008 i8 vec8 wide", random_matrix(45, 11008, 8, HEARTH_DTYPE_I8, true, 12));
  check_matrix("9000x512 f16 vec8", random_matrix(9000, 512, 8, HEARTH_DTYPE_F16, false, 13));
  check_matrix("20x12300 f16 vec8", random_matrix(20, 12300, 8, HEARTH_DTYPE_F16, false, 14));

  // A header that disagrees with the tensor's shape: NaN outputs, no stray reads.
  const HostCs256 s = random_matrix(64, 512, 8, HEARTH_DTYPE_F16, false, 8);
  std::vector<uint8_t> blob = serialize(s);
  DeviceBuffer d_blob(blob.size());
  d_blob.upload(blob.data(), blob.size());
  const std::vector<float> x = random_activations(s.n + 256, 1, 9);
  DeviceBuffer d_x(x.size() * 4);
  d_x.upload(x.data(), x.size() * 4);
  for (Cs256Kernel k : kAllKernels) {
    const std::vector<float> y = run_kernel(k, d_blob, s.m, s.n + 256, d_x, 1);
    const bool all_nan = std::all_of(y.begin(), y.end(), [](float v) { return std::isnan(v); });
    report(all_nan, std::string("shape mismatch -> NaN outputs, ") + kernel_name(k), "");
  }
  // A misaligned blob pointer is refused before launch.
  DeviceBuffer d_y(4 * s.m);
  const hearth_op op =
      matmul_op(d_blob.get<uint8_t>() + 8, s.m, s.n, d_x.get<float>(), d_y.get<float>(), 1);
  report(hearth::backend_gpu::launch_cs256_matmul(op, nullptr) == cudaErrorInvalidValue,
         "misaligned blob -> cudaErrorInvalidValue", "");
  static_cast<void>(cudaGetLastError());
}

// ---------------------------------------------------------------- the dense decoder

using hearth::backend_gpu::Cs256DenseType;

const char* dense_name(Cs256DenseType t) { return t == Cs256DenseType::bf16 ? "bf16" : "f16"; }

// What the cuBLAS route decodes a blob to (cublas_matmul.cpp): BF16 for BF16 values, else F16.
Cs256DenseType route_type(uint32_t value_dtype) {
  return value_dtype == HEARTH_DTYPE_BF16 ? Cs256DenseType::bf16 : Cs256DenseType::f16;
}

// format-cs256's dense F32 expansion of the blob rounded to type: what the decoder must write.
std::vector<uint16_t> reference_dense(const std::vector<uint8_t>& blob, uint32_t m, uint32_t n,
                                      Cs256DenseType type) {
  std::vector<float> dense(static_cast<size_t>(m) * n);
  hearth::format_cs256::dequantize(blob.data(), dense.data(), static_cast<int64_t>(dense.size()));
  std::vector<uint16_t> bits(dense.size());
  for (size_t k = 0; k < dense.size(); ++k)
    bits[k] = type == Cs256DenseType::bf16 ? bf16_bits(dense[k]) : f16_bits(dense[k]);
  return bits;
}

// The decoder's output for the blob, written `shift` elements into a NaN-filled buffer (shift 1:
// an output that is only 2-byte aligned, the scalar store path). Empty when the launch failed.
std::vector<uint16_t> run_decoder(const DeviceBuffer& blob, uint32_t m, uint32_t n,
                                  Cs256DenseType type, size_t shift, cudaError_t& status) {
  const size_t count = static_cast<size_t>(m) * n;
  DeviceBuffer out((count + shift) * 2);
  check_cuda(cudaMemset(out.get(), 0xFF, out.bytes()), "cudaMemset");
  const hearth_tensor w = matmul_op(blob.get(), m, n, nullptr, nullptr, 1).src[0];
  status =
      hearth::backend_gpu::launch_cs256_dequantize(w, out.get<uint16_t>() + shift, type, nullptr);
  if (status != cudaSuccess) return {};
  check_cuda(cudaDeviceSynchronize(), "cs256 dequantize run");
  std::vector<uint16_t> got(count);
  check_cuda(cudaMemcpy(got.data(), out.get<uint16_t>() + shift, count * 2, cudaMemcpyDeviceToHost),
             "download");
  return got;
}

bool same_bits(const std::vector<uint16_t>& got, const std::vector<uint16_t>& want, uint32_t n,
               std::string& detail) {
  size_t wrong = 0, first = 0;
  for (size_t k = 0; k < want.size(); ++k)
    if (got[k] != want[k] && wrong++ == 0) first = k;
  char buf[160];
  if (wrong == 0) {
    std::snprintf(buf, sizeof buf, "%zu elements bit-exact", want.size());
  } else {
    std::snprintf(buf, sizeof buf,
                  "%zu of %zu elements differ, first (row %zu, col %zu): 0x%04x, "
                  "want 0x%04x",
                  wrong, want.size(), first / n, first % n, got[first], want[first]);
  }
  detail = buf;
  return wrong == 0;
}

// The decoder to the route's type and to the other one (what a BF16 blob gets while a CUDA graph
// is being captured), into aligned and 2-byte-aligned outputs.
void check_decoder(const std::string& name, const std::vector<uint8_t>& blob, uint32_t m,
                   uint32_t n, uint32_t value_dtype) {
  DeviceBuffer d_blob(blob.size());
  d_blob.upload(blob.data(), blob.size());
  const Cs256DenseType route = route_type(value_dtype);
  const Cs256DenseType other =
      route == Cs256DenseType::f16 ? Cs256DenseType::bf16 : Cs256DenseType::f16;
  for (Cs256DenseType type : {route, other}) {
    const std::vector<uint16_t> want = reference_dense(blob, m, n, type);
    for (size_t shift : {size_t{0}, size_t{1}}) {
      cudaError_t status = cudaSuccess;
      const std::vector<uint16_t> got = run_decoder(d_blob, m, n, type, shift, status);
      std::string detail = cudaGetErrorString(status);
      const bool ok = status == cudaSuccess && same_bits(got, want, n, detail);
      report(ok,
             name + " dequantize -> " + dense_name(type) + (type == route ? "" : " (cross-type)") +
                 (shift != 0 ? ", 2-byte-aligned output" : ""),
             detail);
    }
  }
}

// A pruned checkpoint as format-cs256's encoder stores it, padding included (zero entries at a
// tile's unused columns, and repeats of the last column where a partial tile is full): random
// zeros, empty rows (i % 7 == 3) and dense rows (i % 7 == 5: full 256-column tiles, which need
// wide increments, and a full partial tile when n % 256 != 0). With sparsity, the encoder
// prunes a dense random matrix itself. The blob passes format-cs256's validate().
std::vector<uint8_t> encoded_matrix(uint32_t m, uint32_t n, hearth_dtype values, int vec,
                                    std::optional<double> sparsity, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> w(static_cast<size_t>(m) * n);
  for (uint32_t i = 0; i < m; ++i)
    for (uint32_t c = 0; c < n; ++c) {
      float v = rng.symmetric();
      if (v == 0.0f) v = 0.5f;
      const bool keep = sparsity || i % 7 == 5 || (i % 7 != 3 && rng.uniform() < 0.4f);
      w[static_cast<size_t>(i) * n + c] = keep ? v : 0.0f;
    }
  hearth::format_cs256::EncodeOptions options;
  options.sparsity = sparsity;
  options.values = values;
  options.vec = vec;
  const std::vector<std::byte> bytes =
      hearth::format_cs256::encode(w.data(), m, n, nullptr, options);
  hearth::format_cs256::validate(bytes.data(), bytes.size(), m, n);
  std::vector<uint8_t> blob(bytes.size());
  std::memcpy(blob.data(), bytes.data(), bytes.size());
  return blob;
}

void decoder_cases() {
  std::printf(
      "\n== correctness: the dense decoder vs format-cs256's CPU expansion, bit for bit ==\n");
  struct Random {
    const char* name;
    uint32_t m, n, vec, dtype;
    bool wide;
    uint32_t empty_every;
  };
  // n % 256 != 0, n % 8 != 0 (scalar stores), empty rows, full tiles (wide), vec 1/4/8/16, all
  // value types, and rows of more than 64 tiles (two staging passes).
  const Random randoms[] = {
      {"dq 100x1000 f16 vec8 empty rows", 100, 1000, 8, HEARTH_DTYPE_F16, false, 3},
      {"dq 37x4100 bf16 vec4", 37, 4100, 4, HEARTH_DTYPE_BF16, false, 5},
      {"dq 130x5000 i8 vec16 empty rows", 130, 5000, 16, HEARTH_DTYPE_I8, false, 4},
      {"dq 33x600 f16 vec8 wide", 33, 600, 8, HEARTH_DTYPE_F16, true, 0},
      {"dq 37x700 f16 vec1", 37, 700, 1, HEARTH_DTYPE_F16, false, 0},
      {"dq 1x100 f16 vec4", 1, 100, 4, HEARTH_DTYPE_F16, false, 0},
      {"dq 45x11008 i8 vec8 wide", 45, 11008, 8, HEARTH_DTYPE_I8, true, 7},
      {"dq 20x17000 f16 vec8 (67 tiles)", 20, 17000, 8, HEARTH_DTYPE_F16, false, 6},
      {"dq 9x40000 bf16 vec8 wide (157 tiles)", 9, 40000, 8, HEARTH_DTYPE_BF16, true, 4},
      {"dq 3000x512 f16 vec8", 3000, 512, 8, HEARTH_DTYPE_F16, false, 0},
  };
  for (const Random& r : randoms) {
    const HostCs256 s = random_matrix(r.m, r.n, r.vec, r.dtype, r.wide, 500 + r.m, r.empty_every);
    check_decoder(r.name, serialize(s), r.m, r.n, r.dtype);
  }
  struct Encoded {
    const char* name;
    uint32_t m, n;
    hearth_dtype values;
    int vec;
    std::optional<double> sparsity;
  };
  const Encoded encoded[] = {
      {"dq encoder 50x300 f16 vec8 padded+wide", 50, 300, HEARTH_DTYPE_F16, 8, std::nullopt},
      {"dq encoder 40x556 bf16 vec16 padded+wide", 40, 556, HEARTH_DTYPE_BF16, 16, std::nullopt},
      {"dq encoder 30x1100 int8 vec4 padded+wide", 30, 1100, HEARTH_DTYPE_I8, 4, std::nullopt},
      {"dq encoder 64x768 f16 vec8 sparsity 0.5", 64, 768, HEARTH_DTYPE_F16, 8, 0.5},
      {"dq encoder 48x1000 int8 vec8 sparsity 0.66", 48, 1000, HEARTH_DTYPE_I8, 8, 0.66},
  };
  for (const Encoded& e : encoded) {
    try {
      check_decoder(e.name, encoded_matrix(e.m, e.n, e.values, e.vec, e.sparsity, 900 + e.n), e.m,
                    e.n, e.values);
    } catch (const std::exception& ex) {
      report(false, e.name, std::string("format-cs256 refused the matrix: ") + ex.what());
    }
  }

  // A header that disagrees with the tensor's shape: every element NaN. A misaligned blob is
  // refused before launching.
  const HostCs256 s = random_matrix(64, 512, 8, HEARTH_DTYPE_F16, false, 8);
  const std::vector<uint8_t> blob = serialize(s);
  DeviceBuffer d_blob(blob.size());
  d_blob.upload(blob.data(), blob.size());
  for (Cs256DenseType type : {Cs256DenseType::f16, Cs256DenseType::bf16}) {
    cudaError_t status = cudaSuccess;
    const std::vector<uint16_t> got = run_decoder(d_blob, s.m, s.n + 256, type, 0, status);
    const uint16_t nan = type == Cs256DenseType::bf16 ? 0x7fc0u : 0x7e00u;
    report(status == cudaSuccess && !got.empty() &&
               std::all_of(got.begin(), got.end(), [&](uint16_t b) { return b == nan; }),
           std::string("dq shape mismatch -> NaN rows, ") + dense_name(type), "");
  }
  DeviceBuffer out(static_cast<size_t>(s.m) * s.n * 2);
  hearth_tensor w = matmul_op(d_blob.get<uint8_t>() + 8, s.m, s.n, nullptr, nullptr, 1).src[0];
  report(hearth::backend_gpu::launch_cs256_dequantize(w, out.get(), Cs256DenseType::f16, nullptr) ==
             cudaErrorInvalidValue,
         "dq misaligned blob -> cudaErrorInvalidValue", "");
  static_cast<void>(cudaGetLastError());
}

// ---------------------------------------------------------------- dense F16 baselines

// One warp per row, 8 halves per lane step, F32 activations and accumulation.
__global__ void __launch_bounds__(256)
    dense_f16_gemv(const __half* w, const float* x, float* y, int m, int n) {
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int row = static_cast<int>(blockIdx.x) * 8 + static_cast<int>(threadIdx.x) / 32;
  if (row >= m) return;
  const uint4* wr = reinterpret_cast<const uint4*>(w + static_cast<size_t>(row) * n);
  const float4* xv = reinterpret_cast<const float4*>(x);
  float acc = 0.0f;
#pragma unroll 4
  for (int g = lane; g < n / 8; g += 32) {
    const uint4 u = wr[g];
    const float4 a = xv[2 * g], b = xv[2 * g + 1];
    const __half2* h = reinterpret_cast<const __half2*>(&u);
    const float2 w0 = __half22float2(h[0]), w1 = __half22float2(h[1]);
    const float2 w2 = __half22float2(h[2]), w3 = __half22float2(h[3]);
    acc += w0.x * a.x + w0.y * a.y + w1.x * a.z + w1.y * a.w + w2.x * b.x + w2.y * b.y +
           w3.x * b.z + w3.y * b.w;
  }
#pragma unroll
  for (int mask = 16; mask > 0; mask >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, mask);
  if (lane == 0) y[row] = acc;
}

__global__ void copy_kernel(const float4* src, float4* dst, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    dst[i] = src[i];
}

// cuBLAS through dlopen, so the bench links only the CUDA runtime and runs where libcublas is
// missing (it then says so and skips those rows).
class Cublas {
  // The C entry point (cublas_api.h also declares C++ overloads of the name).
  using GemmEx = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int,
                                    int, const void*, const void*, cudaDataType, int, const void*,
                                    cudaDataType, int, const void*, void*, cudaDataType, int,
                                    cublasComputeType_t, cublasGemmAlgo_t);

 public:
  Cublas() {
    for (const char* name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}) {
      lib_ = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (lib_ != nullptr) break;
    }
    if (lib_ == nullptr) {
      why_ = "libcublas not found by dlopen";
      return;
    }
    create_ = reinterpret_cast<decltype(&cublasCreate_v2)>(dlsym(lib_, "cublasCreate_v2"));
    destroy_ = reinterpret_cast<decltype(&cublasDestroy_v2)>(dlsym(lib_, "cublasDestroy_v2"));
    gemm_ex_ = reinterpret_cast<GemmEx>(dlsym(lib_, "cublasGemmEx"));
    set_stream_ =
        reinterpret_cast<decltype(&cublasSetStream_v2)>(dlsym(lib_, "cublasSetStream_v2"));
    if (create_ == nullptr || destroy_ == nullptr || gemm_ex_ == nullptr ||
        set_stream_ == nullptr) {
      why_ = "libcublas lacks cublasCreate_v2/cublasSetStream_v2/cublasGemmEx";
      return;
    }
    if (create_(&handle_) != CUBLAS_STATUS_SUCCESS) {
      why_ = "cublasCreate failed";
      handle_ = nullptr;
    }
  }
  Cublas(const Cublas&) = delete;
  Cublas& operator=(const Cublas&) = delete;
  ~Cublas() {
    if (handle_ != nullptr) destroy_(handle_);
    if (lib_ != nullptr) dlclose(lib_);
  }
  bool ok() const { return handle_ != nullptr; }
  const std::string& why() const { return why_; }
  // y[n_tok][m] = W[m][n] x[n_tok][n]: column-major, W is n x m (lda n), transposed.
  cublasStatus_t gemv(const __half* w, const __half* x, float* y, int m, int n, int n_tok,
                      cudaStream_t stream) const {
    const float alpha = 1.0f, beta = 0.0f;
    const cublasStatus_t st = set_stream_(handle_, stream);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    return gemm_ex_(handle_, CUBLAS_OP_T, CUBLAS_OP_N, m, n_tok, n, &alpha, w, CUDA_R_16F, n, x,
                    CUDA_R_16F, n, &beta, y, CUDA_R_32F, m, CUBLAS_COMPUTE_32F,
                    CUBLAS_GEMM_DEFAULT);
  }

 private:
  void* lib_ = nullptr;
  cublasHandle_t handle_ = nullptr;
  decltype(&cublasCreate_v2) create_ = nullptr;
  decltype(&cublasDestroy_v2) destroy_ = nullptr;
  decltype(&cublasSetStream_v2) set_stream_ = nullptr;
  GemmEx gemm_ex_ = nullptr;
  std::string why_;
};

// ---------------------------------------------------------------- timing

class Timer {
 public:
  Timer() {
    check_cuda(cudaEventCreate(&a_), "cudaEventCreate");
    check_cuda(cudaEventCreate(&b_), "cudaEventCreate");
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  ~Timer() {
    static_cast<void>(cudaEventDestroy(a_));
    static_cast<void>(cudaEventDestroy(b_));
    static_cast<void>(cudaStreamDestroy(stream_));
  }

  // Median milliseconds per call of fn(copy, stream), over reps repetitions of one call per
  // copy. The calls are captured into one CUDA graph, so the host's launch rate (a few us per
  // launch, as long as a small layer's kernel) does not limit what is measured; where capture
  // fails they are launched directly and *graphed says so.
  double median_ms(int copies, int reps, const std::function<void(int, cudaStream_t)>& fn,
                   bool* graphed = nullptr) {
    for (int c = 0; c < copies; ++c) fn(c, stream_);  // warm-up, and any lazy allocation
    check_cuda(cudaStreamSynchronize(stream_), "warm-up");
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    bool use_graph = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed) == cudaSuccess;
    if (use_graph) {
      for (int c = 0; c < copies; ++c) fn(c, stream_);
      use_graph = cudaStreamEndCapture(stream_, &graph) == cudaSuccess && graph != nullptr &&
                  cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
      static_cast<void>(cudaGetLastError());
    }
    const auto run = [&] {
      if (use_graph)
        check_cuda(cudaGraphLaunch(exec, stream_), "cudaGraphLaunch");
      else
        for (int c = 0; c < copies; ++c) fn(c, stream_);
    };
    run();
    check_cuda(cudaStreamSynchronize(stream_), "warm-up");
    std::vector<double> ms;
    for (int r = 0; r < reps; ++r) {
      check_cuda(cudaEventRecord(a_, stream_), "cudaEventRecord");
      run();
      check_cuda(cudaEventRecord(b_, stream_), "cudaEventRecord");
      check_cuda(cudaEventSynchronize(b_), "timed run");
      float t = 0;
      check_cuda(cudaEventElapsedTime(&t, a_, b_), "cudaEventElapsedTime");
      ms.push_back(static_cast<double>(t) / copies);
    }
    if (exec != nullptr) static_cast<void>(cudaGraphExecDestroy(exec));
    if (graph != nullptr) static_cast<void>(cudaGraphDestroy(graph));
    if (graphed != nullptr) *graphed = use_graph;
    if (!use_graph)
      std::printf(
          "   (next row: graph capture failed, timed with direct launches, so the host's "
          "launch rate may dominate)\n");
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  }

 private:
  cudaEvent_t a_{}, b_{};
  cudaStream_t stream_{};
};

constexpr int kReps = 25;
constexpr double kRotateBytes = 512.0 * 1024 * 1024;

int copies_for(size_t bytes) {
  return std::clamp(static_cast<int>(std::ceil(kRotateBytes / static_cast<double>(bytes))), 2, 64);
}

struct CopyBandwidth {
  double memcpy_gbs = 0, kernel_gbs = 0;
  double best() const { return std::max(memcpy_gbs, kernel_gbs); }
};

CopyBandwidth measure_copy_bandwidth(Timer& ev) {
  const size_t bytes = 1ull << 30;
  DeviceBuffer a(bytes), b(bytes);
  check_cuda(cudaMemset(a.get(), 1, bytes), "cudaMemset");
  CopyBandwidth bw;
  const double t_memcpy = ev.median_ms(1, 20, [&](int, cudaStream_t st) {
    check_cuda(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, st),
               "memcpy D2D");
  });
  bw.memcpy_gbs = 2.0 * bytes / (t_memcpy * 1e6);
  int sms = 0;
  check_cuda(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), "SM count");
  const double t_kernel = ev.median_ms(1, 20, [&](int, cudaStream_t st) {
    copy_kernel<<<sms * 8, 512, 0, st>>>(a.get<const float4>(), b.get<float4>(), bytes / 16);
    check_cuda(cudaGetLastError(), "copy_kernel launch");
  });
  bw.kernel_gbs = 2.0 * bytes / (t_kernel * 1e6);
  std::printf(
      "copy bandwidth (read + write of 1 GiB): cudaMemcpy D2D %.1f GB/s, copy kernel "
      "%.1f GB/s; reference = %.1f GB/s\n",
      bw.memcpy_gbs, bw.kernel_gbs, bw.best());
  return bw;
}

void print_row(const char* kernel, uint32_t m, uint32_t n, const char* sparsity, int n_tok,
               double bytes, double ms, const CopyBandwidth& bw, double dense_ms) {
  const double gbs = bytes / (ms * 1e6);
  const double bound_us = bytes / (bw.best() * 1e3);
  char versus[32] = "n/a";
  if (dense_ms > 0) std::snprintf(versus, sizeof versus, "%.2fx", dense_ms / ms);
  std::printf("%-20s %5ux%-5u %5s %3d %9.2f %9.2f %8.1f %6.1f%% %9.2f %8s\n", kernel, m, n,
              sparsity, n_tok, bytes / 1e6, ms * 1e3, gbs, 100.0 * gbs / bw.best(), bound_us,
              versus);
}

// ---------------------------------------------------------------- Llama-shaped layers

// Magnitude pruning as format-cs256's encoder does it (README "Encoder"): each tile's weights
// sorted by |w| and cut into groups of 8; per 256-column block the groups of all rows compete
// for floor(m * width * density / 8) slots; a tile keeps at most 31 groups (248 weights).
struct DenseLayer {
  uint32_t m, n;
  std::vector<uint16_t> w;         // F16 bits, row-major m x n (the unpruned weights)
  std::vector<uint8_t> order;      // per tile, columns by descending |w| (256 per tile)
  std::vector<float> group_score;  // per tile, 32 group sums of |w|
};

DenseLayer make_layer(uint32_t m, uint32_t n, uint64_t seed) {
  DenseLayer d{m, n, {}, {}, {}};
  Rng rng(seed);
  d.w.resize(static_cast<size_t>(m) * n);
  for (auto& v : d.w) v = f16_bits(rng.symmetric() * 0.05f);
  const uint32_t tiles = n / 256;  // the bench shapes are multiples of 256
  d.order.resize(static_cast<size_t>(m) * tiles * 256);
  d.group_score.resize(static_cast<size_t>(m) * tiles * 32);
  std::vector<uint32_t> key(256);
  for (uint32_t i = 0; i < m; ++i)
    for (uint32_t t = 0; t < tiles; ++t) {
      const uint16_t* src = &d.w[static_cast<size_t>(i) * n + 256 * t];
      // |f16| orders like its bits without the sign; ties broken by column
      for (uint32_t c = 0; c < 256; ++c) key[c] = ((0x7FFFu - (src[c] & 0x7FFFu)) << 8) | c;
      std::sort(key.begin(), key.end());
      const size_t tile = static_cast<size_t>(i) * tiles + t;
      for (uint32_t c = 0; c < 256; ++c) d.order[tile * 256 + c] = static_cast<uint8_t>(key[c]);
      for (uint32_t g = 0; g < 32; ++g) {
        float s = 0;
        for (uint32_t e = 0; e < 8; ++e)
          s += std::fabs(f16_value(src[d.order[tile * 256 + 8 * g + e]]));
        d.group_score[tile * 32 + g] = s;
      }
    }
  return d;
}

HostCs256 prune(const DenseLayer& d, double sparsity) {
  const uint32_t tiles = d.n / 256;
  HostCs256 s;
  s.m = d.m;
  s.n = d.n;
  s.vec = 8;
  s.value_dtype = HEARTH_DTYPE_F16;
  s.counts.assign(static_cast<size_t>(d.m) * s.blk_offset(), 0);
  std::vector<float> scores(static_cast<size_t>(d.m) * 32);
  for (uint32_t t = 0; t < tiles; ++t) {
    const auto slots = static_cast<size_t>(std::floor(d.m * 256.0 * (1.0 - sparsity) / 8.0));
    for (uint32_t i = 0; i < d.m; ++i)
      for (uint32_t g = 0; g < 32; ++g)
        scores[static_cast<size_t>(i) * 32 + g] =
            g < 31 ? d.group_score[(static_cast<size_t>(i) * tiles + t) * 32 + g] : -1.0f;
    std::vector<float> sorted = scores;
    float threshold = -0.5f;
    if (slots > 0 && slots <= sorted.size()) {
      std::nth_element(sorted.begin(), sorted.begin() + (slots - 1), sorted.end(),
                       std::greater<float>());
      threshold = sorted[slots - 1];
    }
    for (uint32_t i = 0; i < d.m; ++i) {
      uint32_t groups = 0;  // group scores fall within a tile, so the kept ones are a prefix
      while (groups < 31 && slots > 0 && scores[static_cast<size_t>(i) * 32 + groups] >= threshold)
        ++groups;
      s.counts[static_cast<size_t>(i) * s.blk_offset() + t] = static_cast<uint16_t>(8 * groups);
    }
  }
  s.idx.reserve(static_cast<size_t>(d.m) * d.n * (1.0 - sparsity) + 1024);
  s.v16.reserve(s.idx.capacity());
  for (uint32_t i = 0; i < d.m; ++i) {
    for (uint32_t t = 0; t < tiles; ++t) {
      const size_t tile = static_cast<size_t>(i) * tiles + t;
      const uint32_t keep = s.counts[static_cast<size_t>(i) * s.blk_offset() + t];
      bool kept[256] = {};
      for (uint32_t e = 0; e < keep; ++e) kept[d.order[tile * 256 + e]] = true;
      for (uint32_t c = 0; c < 256; ++c)
        if (kept[c]) {
          s.idx.push_back(static_cast<uint8_t>(c));
          s.v16.push_back(d.w[static_cast<size_t>(i) * d.n + 256 * t + c]);
        }
    }
    s.row_ptr.push_back(static_cast<uint32_t>(s.idx.size()));
  }
  return s;
}

// The fastest CS256 kernel of one shape, sparsity and token count, for the closing table.
struct SummaryRow {
  std::string shape_sparsity;
  int n_tok;
  std::string kernel;
  double ms, gbs, copy_pct, dense_ms;  // dense_ms: the best dense F16 time at n_tok (0: none)
  double chosen_ms;                    // the kernel launch_cs256_matmul picks for n_tok
};
void print_summary(const std::vector<SummaryRow>& summary) {
  std::printf(
      "\n== summary: fastest CS256 kernel per shape, sparsity and token count (us, GB/s of blob "
      "+ activations, %% of copy, speed-up vs the best dense F16 time at the same token count: "
      "our GEMV or cuBLAS at 1 token, cuBLAS above; 'chosen' = the kernel the plugin picks) "
      "==\n");
  std::printf(
      "| layer, sparsity | tok | fastest kernel | us | GB/s | %% copy | vs dense | chosen us"
      " | chosen vs dense |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const SummaryRow& r : summary)
    std::printf("| %s | %d | %s | %.1f | %.0f | %.1f | %.2fx | %.1f | %.2fx |\n",
                r.shape_sparsity.c_str(), r.n_tok, r.kernel.c_str(), r.ms * 1e3, r.gbs, r.copy_pct,
                r.dense_ms > 0 ? r.dense_ms / r.ms : 0.0, r.chosen_ms * 1e3,
                r.chosen_ms > 0 && r.dense_ms > 0 ? r.dense_ms / r.chosen_ms : 0.0);
}

// Only the CS256 rows whose label contains `only` ("" = all).
void bench_shape(uint32_t m, uint32_t n, const CopyBandwidth& bw, Timer& ev, const Cublas& blas,
                 const std::string& only, std::vector<SummaryRow>& summary) {
  const DenseLayer layer = make_layer(m, n, 42 + m + n);
  const std::vector<float> x = random_activations(n, 8, 77);
  DeviceBuffer d_x(x.size() * 4), d_y(static_cast<size_t>(m) * 8 * 4);
  d_x.upload(x.data(), x.size() * 4);
  std::vector<uint16_t> x16(x.size());
  for (size_t k = 0; k < x.size(); ++k) x16[k] = f16_bits(x[k]);
  DeviceBuffer d_x16(x16.size() * 2);
  d_x16.upload(x16.data(), x16.size() * 2);

  // Dense F16: correctness on one token, then timing over rotating copies.
  const size_t dense_bytes = layer.w.size() * 2;
  const int dense_copies = copies_for(dense_bytes);
  std::vector<DeviceBuffer> dense;
  for (int c = 0; c < dense_copies; ++c) {
    dense.emplace_back(dense_bytes);
    dense.back().upload(layer.w.data(), dense_bytes);
  }
  {
    std::vector<double> ref(m, 0.0), abs_sum(m, 0.0);
    for (uint32_t i = 0; i < m; ++i)
      for (uint32_t c = 0; c < n; ++c) {
        const double p =
            static_cast<double>(f16_value(layer.w[static_cast<size_t>(i) * n + c])) * x[c];
        ref[i] += p;
        abs_sum[i] += std::fabs(p);
      }
    dense_f16_gemv<<<(m + 7) / 8, 256>>>(dense[0].get<const __half>(), d_x.get<const float>(),
                                         d_y.get<float>(), static_cast<int>(m),
                                         static_cast<int>(n));
    check_cuda(cudaGetLastError(), "dense_f16_gemv launch");
    std::vector<float> y(m);
    check_cuda(cudaMemcpy(y.data(), d_y.get(), m * 4, cudaMemcpyDeviceToHost), "download");
    std::string detail;
    const std::string shape = std::to_string(m) + "x" + std::to_string(n);
    report(compare(nullptr, y, ref, abs_sum, m, n, detail), shape + " dense F16 GEMV", detail);
    if (blas.ok()) {
      const cublasStatus_t st =
          blas.gemv(dense[0].get<const __half>(), d_x16.get<const __half>(), d_y.get<float>(),
                    static_cast<int>(m), static_cast<int>(n), 1, nullptr);
      check_cuda(cudaMemcpy(y.data(), d_y.get(), m * 4, cudaMemcpyDeviceToHost), "download");
      report(st == CUBLAS_STATUS_SUCCESS && compare(nullptr, y, ref, abs_sum, m, n, detail),
             shape + " cuBLAS GemmEx F16", detail);
    }
  }
  const double io1 = n * 4.0 + m * 4.0;
  const double t_dense = ev.median_ms(dense_copies, kReps, [&](int c, cudaStream_t st) {
    dense_f16_gemv<<<(m + 7) / 8, 256, 0, st>>>(dense[static_cast<size_t>(c)].get<const __half>(),
                                                d_x.get<const float>(), d_y.get<float>(),
                                                static_cast<int>(m), static_cast<int>(n));
    check_cuda(cudaGetLastError(), "dense_f16_gemv launch");
  });
  double best_dense[9] = {0, t_dense};  // by token count; 0 = not measured
  print_row("dense-f16-gemv", m, n, "0%", 1, dense_bytes + io1, t_dense, bw, t_dense);
  if (blas.ok()) {
    for (int n_tok : kTimedTokenCounts) {
      bool blas_failed = false;
      const double t = ev.median_ms(dense_copies, kReps, [&](int c, cudaStream_t st) {
        blas_failed |= blas.gemv(dense[static_cast<size_t>(c)].get<const __half>(),
                                 d_x16.get<const __half>(), d_y.get<float>(), static_cast<int>(m),
                                 static_cast<int>(n), n_tok, st) != CUBLAS_STATUS_SUCCESS;
      });
      if (blas_failed) {
        report(false, "cuBLAS GemmEx timing, n_tok=" + std::to_string(n_tok), "a call failed");
        continue;
      }
      best_dense[n_tok] = n_tok == 1 ? std::min(best_dense[1], t) : t;
      print_row("cublas-gemmex-f16", m, n, "0%", n_tok, dense_bytes + n_tok * (n * 2.0 + m * 4.0),
                t, bw, best_dense[n_tok]);
    }
  }
  // Prefill: cuBLAS at kPrefillTokens F16 tokens on the dense matrix, the time the CS256
  // route (decode + the same GEMM) is compared with.
  const std::vector<float> xp = random_activations(n, kPrefillTokens, 78);
  std::vector<uint16_t> xp16(xp.size());
  for (size_t k = 0; k < xp.size(); ++k) xp16[k] = f16_bits(xp[k]);
  DeviceBuffer d_xp16(xp16.size() * 2), d_yp(static_cast<size_t>(m) * kPrefillTokens * 4);
  d_xp16.upload(xp16.data(), xp16.size() * 2);
  double dense_prefill_ms = 0;
  if (blas.ok()) {
    bool blas_failed = false;
    dense_prefill_ms = ev.median_ms(dense_copies, kReps, [&](int c, cudaStream_t st) {
      blas_failed |= blas.gemv(dense[static_cast<size_t>(c)].get<const __half>(),
                               d_xp16.get<const __half>(), d_yp.get<float>(), static_cast<int>(m),
                               static_cast<int>(n), kPrefillTokens, st) != CUBLAS_STATUS_SUCCESS;
    });
    report(!blas_failed, "cuBLAS GemmEx timing, n_tok=" + std::to_string(kPrefillTokens), "");
    print_row("cublas-gemmex-f16", m, n, "0%", kPrefillTokens,
              dense_bytes + kPrefillTokens * (n * 2.0 + m * 4.0), dense_prefill_ms, bw,
              dense_prefill_ms);
  }
  dense.clear();
  DeviceBuffer d_dense(static_cast<size_t>(m) * n * 2);  // the decoder's output (F16)

  for (double sparsity : {0.50, 0.66, 0.75}) {
    const HostCs256 s = prune(layer, sparsity);
    const std::vector<uint8_t> blob = serialize(s);
    char label[16];
    std::snprintf(label, sizeof label, "%.0f%%", sparsity * 100);
    const std::string name = std::to_string(m) + "x" + std::to_string(n) + " " + label;
    const int copies = copies_for(blob.size());
    std::vector<DeviceBuffer> blobs;
    for (int c = 0; c < copies; ++c) {
      blobs.emplace_back(blob.size());
      blobs.back().upload(blob.data(), blob.size());
    }
    std::vector<double> ref[9], abs[9];  // by token count
    for (int n_tok : kTimedTokenCounts) ref[n_tok] = reference(s, x, n_tok, &abs[n_tok]);
    SummaryRow best[9]{};
    for (int n_tok : kTimedTokenCounts)
      best[n_tok] = SummaryRow{name, n_tok, "", 0, 0, 0, best_dense[n_tok], 0};
    for (Cs256Kernel k : kAllKernels) {
      if (!hearth::backend_gpu::cs256_kernel_takes(k, n)) continue;
      for (int n_tok : timed_tokens(k)) {
        const std::string what = name + " " + kernel_name(k) + " n_tok=" + std::to_string(n_tok);
        if (what.find(only) == std::string::npos) continue;
        std::string detail;
        report(compare(&s, run_kernel(k, blobs[0], m, n, d_x, n_tok), ref[n_tok], abs[n_tok], m, n,
                       detail),
               what, detail);
        const hearth_op base = matmul_op(nullptr, m, n, d_x.get<float>(), d_y.get<float>(), n_tok);
        const double t = ev.median_ms(copies, kReps, [&](int c, cudaStream_t st) {
          hearth_op op = base;
          op.src[0].data = blobs[static_cast<size_t>(c)].get();
          check_cuda(hearth::backend_gpu::launch_cs256_matmul_with(k, op, st), kernel_name(k));
        });
        const double bytes = blob.size() + n_tok * (n * 4.0 + m * 4.0);
        print_row(kernel_name(k), m, n, label, n_tok, bytes, t, bw, best_dense[n_tok]);
        SummaryRow& b = best[n_tok];
        if (b.ms == 0 || t < b.ms) {
          b.kernel = kernel_name(k);
          b.ms = t;
          b.gbs = bytes / (t * 1e6);
          b.copy_pct = 100.0 * b.gbs / bw.best();
        }
        if (k == hearth::backend_gpu::choose_cs256_kernel(n_tok, n)) b.chosen_ms = t;
      }
    }
    // The cuBLAS prefill route's decoder: bit-exact on this layer, then timed alone (bytes: the
    // blob read + the dense F16 matrix written; tok 0) and in front of the prefill GEMM.
    {
      cudaError_t status = cudaSuccess;
      const std::vector<uint16_t> got = run_decoder(blobs[0], m, n, Cs256DenseType::f16, 0, status);
      std::string detail = cudaGetErrorString(status);
      report(status == cudaSuccess &&
                 same_bits(got, reference_dense(blob, m, n, Cs256DenseType::f16), n, detail),
             name + " dequantize -> f16", detail);
      const hearth_tensor w0 = matmul_op(nullptr, m, n, nullptr, nullptr, 1).src[0];
      const auto decode = [&](int c, cudaStream_t st) {
        hearth_tensor w = w0;
        w.data = blobs[static_cast<size_t>(c)].get();
        check_cuda(
            hearth::backend_gpu::launch_cs256_dequantize(w, d_dense.get(), Cs256DenseType::f16, st),
            "cs256 dequantize");
      };
      const double t = ev.median_ms(copies, kReps, decode);
      const double bytes = blob.size() + static_cast<double>(m) * n * 2.0;
      print_row("cs256-dequant-f16", m, n, label, 0, bytes, t, bw, 0);
      if (blas.ok()) {
        bool blas_failed = false;
        const double t_pp = ev.median_ms(copies, kReps, [&](int c, cudaStream_t st) {
          decode(c, st);
          blas_failed |= blas.gemv(d_dense.get<const __half>(), d_xp16.get<const __half>(),
                                   d_yp.get<float>(), static_cast<int>(m), static_cast<int>(n),
                                   kPrefillTokens, st) != CUBLAS_STATUS_SUCCESS;
        });
        report(!blas_failed, name + " dequantize + cuBLAS timing", "");
        print_row("cs256-dequant+gemm", m, n, label, kPrefillTokens,
                  bytes + kPrefillTokens * (n * 2.0 + m * 4.0), t_pp, bw, dense_prefill_ms);
      }
    }
    for (int n_tok : kTimedTokenCounts) summary.push_back(best[n_tok]);
    std::printf("   %s: nnz %llu (density %.3f), blob %.2f MB = %.3f of dense F16\n", name.c_str(),
                static_cast<unsigned long long>(s.nnz()),
                static_cast<double>(s.nnz()) / (static_cast<double>(m) * n), blob.size() / 1e6,
                static_cast<double>(blob.size()) / static_cast<double>(dense_bytes));
  }
}

}  // namespace

int main() {
  const char* only_setting = std::getenv("CS256_BENCH_ONLY");
  const std::string only = only_setting != nullptr ? only_setting : "";
  int device = 0;
  cudaDeviceProp prop{};
  check_cuda(cudaGetDevice(&device), "cudaGetDevice (is there a GPU and a driver?)");
  check_cuda(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  std::printf("cs256_bench on %s (sm_%d%d, %d SMs, %.1f GiB, L2 %.1f MiB)\n", prop.name, prop.major,
              prop.minor, prop.multiProcessorCount,
              static_cast<double>(prop.totalGlobalMem) / (1 << 30),
              static_cast<double>(prop.l2CacheSize) / (1 << 20));

  // CS256_BENCH_ONLY=text: no correctness cases, and only the CS256 timing rows whose label
  // ("4096x4096 66% spmv-warp-resident n_tok=1") contains text; for a profiler's single launch.
  if (only.empty()) {
    correctness_cases();
    decoder_cases();
  }

  std::printf("\n== timing: median of %d repetitions, weights rotated over >= 512 MiB ==\n", kReps);
  Timer ev;
  const CopyBandwidth bw = measure_copy_bandwidth(ev);
  const Cublas blas;
  if (!blas.ok()) std::printf("cuBLAS rows skipped: %s\n", blas.why().c_str());
  std::printf("%-20s %11s %5s %3s %9s %9s %8s %7s %9s %8s\n", "kernel", "m x n", "sparse", "tok",
              "MB", "time us", "GB/s", "%copy", "bound us", "vs dense");
  std::printf(
      "(vs dense: best dense F16 time of the same token count / this time; bound = bytes "
      "/ copy bandwidth; cs256-dequant-f16 (tok 0): the prefill route's decoder alone, blob read "
      "+ dense F16 written; cs256-dequant+gemm: decoder + cuBLAS at %d tokens vs cuBLAS on the "
      "dense F16 matrix)\n",
      kPrefillTokens);
  std::vector<SummaryRow> summary;
  for (const auto& [m, n] :
       {std::pair<uint32_t, uint32_t>{4096, 4096}, {11008, 4096}, {4096, 11008}})
    bench_shape(m, n, bw, ev, blas, only, summary);
  print_summary(summary);

  if (!only.empty())
    std::printf("\nCS256_BENCH_ONLY=%s: the correctness cases did not run\n", only.c_str());
  std::printf("\n%s: %d failure(s)\n", g_failures == 0 ? "ALL PASS" : "FAILURES", g_failures);
  return g_failures == 0 ? 0 : 1;
}
