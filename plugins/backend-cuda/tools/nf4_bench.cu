// nf4_bench: correctness and speed of the NF4 kernels (nf4_dequantize.cu, nf4_matmul.cu) on random
// data, checked against plain CPU references written here from shared/specs/nf4.md. Run with no
// arguments on a CUDA GPU; prints PASS/FAIL per case, then timing tables. Exit status 0 only if
// every case passed.
//
// Timings are CUDA-event GPU times. Copy bandwidth (cudaMemcpy device-to-device of 1 GiB and a
// plain copy kernel; read + written bytes) is the reference for "% copy". The dequantization
// table follows seed 001's harness: gate/up/down of an MLP, 1000 iterations per configuration.
// GEMV weights rotate over enough copies to exceed 3x the L2 cache, so they stream from HBM.
#include <cuda_runtime.h>
#include <hearth/sdk/abi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../nf4_gemv_tma.hpp"
#include "../nf4_kernels.hpp"

namespace {

using hearth::backend_gpu::launch_nf4_bnb_dequantize;
using hearth::backend_gpu::launch_nf4_dequantize;
using hearth::backend_gpu::launch_nf4_matmul;
using hearth::backend_gpu::Nf4BnbWeight;
using hearth::backend_gpu::Nf4OutType;
using hearth::backend_gpu::prepare_nf4_gemv_tma;

void check_cuda(cudaError_t err, const char* what, const char* file, int line) {
  if (err == cudaSuccess) return;
  std::fprintf(stderr, "nf4_bench: CUDA error %s (%s)\n  in %s\n  at %s:%d\n",
               cudaGetErrorName(err), cudaGetErrorString(err), what, file, line);
  std::exit(2);
}
#define CHECK_CUDA(expr) check_cuda((expr), #expr, __FILE__, __LINE__)
// Launch errors, then (synchronously) faults inside the kernel.
#define CHECK_LAUNCH(expr)          \
  do {                              \
    CHECK_CUDA(expr);               \
    CHECK_CUDA(cudaGetLastError()); \
  } while (0)

class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) { CHECK_CUDA(cudaMalloc(&ptr_, bytes)); }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <class T = uint8_t>
  T* get() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_;
};

class Events {
 public:
  Events() {
    CHECK_CUDA(cudaEventCreate(&start_));
    CHECK_CUDA(cudaEventCreate(&stop_));
  }
  ~Events() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;
  void start() { CHECK_CUDA(cudaEventRecord(start_)); }
  float stop_ms() {
    CHECK_CUDA(cudaEventRecord(stop_));
    CHECK_CUDA(cudaEventSynchronize(stop_));
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, start_, stop_));
    return ms;
  }

 private:
  cudaEvent_t start_{};
  cudaEvent_t stop_{};
};

// splitmix64: fast, seedable, good enough for test data.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }  // [0, 1)
  void fill(uint8_t* p, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const uint64_t v = next();
      std::memcpy(p + i, &v, 8);
    }
    for (; i < n; ++i) p[i] = static_cast<uint8_t>(next());
  }

 private:
  uint64_t s_;
};

// ------------------------------------------------------------------ CPU reference (the spec)

// shared/specs/nf4.md §1.
constexpr float kNf4Table[16] = HEARTH_NF4_CODEBOOK;

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// IEEE binary16, round to nearest even, overflow to infinity, subnormals kept (data has no NaN).
uint16_t to_f16_bits(float f) {
  const uint32_t x = float_bits(f);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520 (the tie above 65504) -> inf
  if (ax < 0x38800000u) {                        // below 2^-14: a multiple of 2^-24
    float a;
    std::memcpy(&a, &ax, 4);
    const double units = std::nearbyint(static_cast<double>(a) * 16777216.0);  // ties to even
    return sign | static_cast<uint16_t>(units);
  }
  const uint32_t rounded = ax + 0xFFFu + ((ax >> 13) & 1u);
  return sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);
}

uint16_t to_bf16_bits(float f) {
  const uint32_t u = float_bits(f);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

uint16_t to_half_bits(float f, Nf4OutType type) {
  return type == Nf4OutType::F16 ? to_f16_bits(f) : to_bf16_bits(f);
}

// Element i of a run of packed codes: byte i/2, high nibble for even i.
int code_at(const uint8_t* codes, int64_t i) {
  const uint8_t byte = codes[i / 2];
  return (i % 2 == 0) ? byte >> 4 : byte & 0x0F;
}

// Hearth block layout: d (float32) then 32 code bytes, per 64 weights.
float hearth_value(const uint8_t* blocks, int64_t i) {
  const uint8_t* block = blocks + (i / 64) * 36;
  float d;
  std::memcpy(&d, block, 4);
  return kNf4Table[code_at(block + 4, i % 64)] * d;
}

struct HostBnb {
  std::vector<uint8_t> codes;
  std::vector<uint8_t> qabsmax;
  std::vector<float> code2;
  std::vector<float> absmax2;
  float offset = 0;
};

// Spec §3: code2[q] * absmax2 rounded, then + offset rounded (built with -ffp-contract=off).
float bnb_value(const HostBnb& w, int64_t i) {
  const int64_t b = i / 64;
  const float scaled = w.code2[w.qabsmax[b]] * w.absmax2[b / 256];
  const float absmax = scaled + w.offset;
  return kNf4Table[code_at(w.codes.data(), i)] * absmax;
}

// create_dynamic_map(signed=True) as the spec §3 describes it (sorted, 256 entries).
std::vector<float> dynamic_map() {
  std::vector<float> v;
  for (int i = 0; i < 7; ++i) {
    const int n = (1 << i) + 1;
    std::vector<double> pts(n);
    for (int k = 0; k < n; ++k) pts[k] = 0.1 + 0.9 * k / (n - 1);
    for (int k = 0; k + 1 < n; ++k) {
      const double mid = (pts[k] + pts[k + 1]) / 2 * std::pow(10.0, i - 6);
      v.push_back(static_cast<float>(mid));
      v.push_back(static_cast<float>(-mid));
    }
  }
  v.push_back(0.0f);
  v.push_back(1.0f);
  std::sort(v.begin(), v.end());
  return v;
}

// ------------------------------------------------------------------ random weights

// absmax values of several magnitudes: realistic ones, tiny ones (F16 subnormals and zero),
// huge ones (F16 overflow), and the odd negative or zero, so every rounding path is exercised.
float random_scale(Rng& rng) {
  const float r = rng.uniform();
  const float m = 0.5f + rng.uniform();
  if (r < 0.70f) return m * 0.02f;
  if (r < 0.85f) return std::ldexp(m, -14 - static_cast<int>(rng.next() % 16));
  if (r < 0.93f) return std::ldexp(m, 8 + static_cast<int>(rng.next() % 10));
  if (r < 0.97f) return -m * 0.01f;
  return 0.0f;
}

std::vector<uint8_t> random_hearth_blocks(int64_t n, Rng& rng, bool realistic_scales) {
  std::vector<uint8_t> blocks(static_cast<size_t>(n / 64) * 36);
  rng.fill(blocks.data(), blocks.size());
  for (size_t b = 0; b < blocks.size(); b += 36) {
    const float d = realistic_scales ? 0.005f + 0.045f * rng.uniform() : random_scale(rng);
    std::memcpy(&blocks[b], &d, 4);
  }
  return blocks;
}

HostBnb random_bnb(int64_t n, Rng& rng) {
  HostBnb w;
  w.codes.resize(static_cast<size_t>(n / 2));
  rng.fill(w.codes.data(), w.codes.size());
  const int64_t nb = n / 64;
  w.qabsmax.resize(static_cast<size_t>(nb));
  rng.fill(w.qabsmax.data(), w.qabsmax.size());
  w.code2 = dynamic_map();
  w.absmax2.resize(static_cast<size_t>((nb + 255) / 256));
  for (auto& a : w.absmax2) a = 0.002f + 0.03f * rng.uniform();
  w.offset = 0.01f + 0.02f * rng.uniform();
  return w;
}

template <class T>
void upload(const DeviceBuffer& dst, size_t offset, const std::vector<T>& src) {
  CHECK_CUDA(
      cudaMemcpy(dst.get() + offset, src.data(), src.size() * sizeof(T), cudaMemcpyHostToDevice));
}

int g_failures = 0;

void report(bool ok, const std::string& what, const std::string& detail) {
  if (!ok) ++g_failures;
  std::printf("%s %s: %s\n", ok ? "PASS" : "FAIL", what.c_str(), detail.c_str());
  std::fflush(stdout);
}

// Compares n device halves with expected(i); bit-exact.
template <class Expected>
void check_halves(const DeviceBuffer& out, int64_t n, Nf4OutType type, const std::string& what,
                  Expected expected) {
  std::vector<uint16_t> got(static_cast<size_t>(n));
  CHECK_CUDA(cudaMemcpy(got.data(), out.get(), got.size() * 2, cudaMemcpyDeviceToHost));
  int64_t bad = 0;
  int64_t first = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (got[i] != to_half_bits(expected(i), type)) {
      if (first < 0) first = i;
      ++bad;
    }
  }
  char detail[256];
  if (bad == 0) {
    std::snprintf(detail, sizeof detail, "%lld values bit-exact", static_cast<long long>(n));
  } else {
    const float want = expected(first);
    std::snprintf(detail, sizeof detail,
                  "%lld of %lld values differ; first at %lld: got 0x%04x, want 0x%04x (%.9g)",
                  static_cast<long long>(bad), static_cast<long long>(n),
                  static_cast<long long>(first), got[first], to_half_bits(want, type), want);
  }
  report(bad == 0, what, detail);
}

const char* type_name(Nf4OutType t) { return t == Nf4OutType::F16 ? "F16" : "BF16"; }

// ------------------------------------------------------------------ copy bandwidth

__global__ void copy_kernel(const uint4* __restrict__ src, uint4* __restrict__ dst, int64_t n) {
  constexpr int kPerThread = 4;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x * kPerThread + threadIdx.x;
  uint4 v[kPerThread];
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    const int64_t i = first + static_cast<int64_t>(k) * blockDim.x;
    if (i < n) v[k] = src[i];
  }
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    const int64_t i = first + static_cast<int64_t>(k) * blockDim.x;
    if (i < n) dst[i] = v[k];
  }
}

template <class F>
float median_ms(int warmup, int reps, F&& run) {
  for (int i = 0; i < warmup; ++i) run(i);
  CHECK_CUDA(cudaDeviceSynchronize());
  std::vector<float> t;
  Events ev;
  for (int i = 0; i < reps; ++i) {
    ev.start();
    run(warmup + i);
    t.push_back(ev.stop_ms());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double gbps(double bytes, double ms) { return bytes / (ms * 1e-3) / 1e9; }

// Returns the better of the two copy figures (GB/s, read + written bytes).
double measure_copy_bandwidth() {
  constexpr size_t kBytes = size_t{1} << 30;
  DeviceBuffer a(kBytes);
  DeviceBuffer b(kBytes);
  CHECK_CUDA(cudaMemset(a.get(), 1, kBytes));
  const float memcpy_ms = median_ms(2, 20, [&](int) {
    CHECK_CUDA(cudaMemcpy(b.get(), a.get(), kBytes, cudaMemcpyDeviceToDevice));
  });
  const int64_t n = static_cast<int64_t>(kBytes / 16);
  const auto grid = static_cast<unsigned>((n + 1023) / 1024);
  const float kernel_ms = median_ms(2, 20, [&](int) {
    copy_kernel<<<grid, 256>>>(a.get<const uint4>(), b.get<uint4>(), n);
    CHECK_CUDA(cudaGetLastError());
  });
  const double m = gbps(2.0 * kBytes, memcpy_ms);
  const double k = gbps(2.0 * kBytes, kernel_ms);
  std::printf("\ncopy bandwidth (1 GiB, read + write bytes, median of 20):\n");
  std::printf("  cudaMemcpy device-to-device : %8.3f ms  %7.1f GB/s\n", memcpy_ms, m);
  std::printf("  copy kernel (uint4)         : %8.3f ms  %7.1f GB/s\n", kernel_ms, k);
  const double ref = std::max(m, k);
  std::printf("  reference for %% copy: %.1f GB/s (the better of the two)\n\n", ref);
  return ref;
}

// ------------------------------------------------------------------ dequantization

void check_nibble_order() {
  // Byte 0xF0: element 0 = code 15 (+1.0), element 1 = code 0 (-1.0) (spec §7 test 2).
  std::vector<uint8_t> block(36, 0xF0);
  const float d = 2.0f;
  std::memcpy(block.data(), &d, 4);
  DeviceBuffer in(36);
  DeviceBuffer out(128);
  upload(in, 0, block);
  CHECK_LAUNCH(launch_nf4_dequantize(in.get(), 1, out.get(), Nf4OutType::F16, nullptr));
  std::vector<uint16_t> got(64);
  CHECK_CUDA(cudaMemcpy(got.data(), out.get(), 128, cudaMemcpyDeviceToHost));
  char detail[128];
  std::snprintf(detail, sizeof detail, "0xF0 -> 0x%04x 0x%04x (want 0x4000 = +2, 0xc000 = -2)",
                got[0], got[1]);
  report(got[0] == 0x4000 && got[1] == 0xC000, "nibble order (element 2j = high nibble)", detail);
}

struct MlpConfig {
  int64_t hd;
  int64_t m;
  uint64_t seed;
  const char* seed_dtype;
};

struct DequantRow {
  std::string label;
  double ms_total;  // the loop launched from the host, back to back on one stream
  double ms_graph;  // the same loop captured once as a CUDA graph and replayed
  double bytes_per_iter;
};

// n launches (launch(i, stream)) captured once as a CUDA graph: one host submission, so
// per-kernel launch overhead (not the kernels) drops out. Returns the median replay time of
// `replays` replays in ms (one warm-up replay first).
template <class Launch>
float graph_ms(int n, int replays, Launch&& launch) {
  cudaStream_t stream{};
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaGraph_t graph{};
  CHECK_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < n; ++i) launch(i, stream);
  CHECK_CUDA(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec{};
  CHECK_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  CHECK_CUDA(cudaGraphLaunch(exec, stream));
  CHECK_CUDA(cudaStreamSynchronize(stream));
  cudaEvent_t start{}, stop{};
  CHECK_CUDA(cudaEventCreate(&start));
  CHECK_CUDA(cudaEventCreate(&stop));
  std::vector<float> t;
  for (int r = 0; r < replays; ++r) {
    CHECK_CUDA(cudaEventRecord(start, stream));
    CHECK_CUDA(cudaGraphLaunch(exec, stream));
    CHECK_CUDA(cudaEventRecord(stop, stream));
    CHECK_CUDA(cudaEventSynchronize(stop));
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, start, stop));
    t.push_back(ms);
  }
  std::sort(t.begin(), t.end());
  CHECK_CUDA(cudaEventDestroy(start));
  CHECK_CUDA(cudaEventDestroy(stop));
  CHECK_CUDA(cudaGraphExecDestroy(exec));
  CHECK_CUDA(cudaGraphDestroy(graph));
  CHECK_CUDA(cudaStreamDestroy(stream));
  return t[t.size() / 2];
}

void run_dequant(const MlpConfig& cfg, int iterations, std::vector<DequantRow>& rows) {
  const int64_t n = cfg.hd * cfg.m;  // every one of gate, up, down has hd * m weights
  const char* names[3] = {"up", "gate", "down"};
  Rng rng(cfg.seed);
  std::vector<std::vector<uint8_t>> hearth(3);
  std::vector<HostBnb> bnb(3);
  for (int k = 0; k < 3; ++k) {
    hearth[k] = random_hearth_blocks(n, rng, false);
    bnb[k] = random_bnb(n, rng);
  }
  std::vector<std::unique_ptr<DeviceBuffer>> dh, dcodes, dq, dcode2, dabs2, dout;
  for (int k = 0; k < 3; ++k) {
    dh.push_back(std::make_unique<DeviceBuffer>(hearth[k].size()));
    upload(*dh[k], 0, hearth[k]);
    dcodes.push_back(std::make_unique<DeviceBuffer>(bnb[k].codes.size()));
    upload(*dcodes[k], 0, bnb[k].codes);
    dq.push_back(std::make_unique<DeviceBuffer>(bnb[k].qabsmax.size()));
    upload(*dq[k], 0, bnb[k].qabsmax);
    dcode2.push_back(std::make_unique<DeviceBuffer>(256 * 4));
    upload(*dcode2[k], 0, bnb[k].code2);
    dabs2.push_back(std::make_unique<DeviceBuffer>(bnb[k].absmax2.size() * 4));
    upload(*dabs2[k], 0, bnb[k].absmax2);
    dout.push_back(std::make_unique<DeviceBuffer>(static_cast<size_t>(n) * 2));
  }
  auto bnb_weight = [&](int k) {
    return Nf4BnbWeight{dcodes[k]->get(), dq[k]->get(), dcode2[k]->get<const float>(),
                        dabs2[k]->get<const float>(), bnb[k].offset};
  };
  const double out_bytes = 2.0 * static_cast<double>(n);
  const double hearth_bytes = static_cast<double>(hearth[0].size()) + out_bytes;
  const double bnb_bytes = static_cast<double>(bnb[0].codes.size() + bnb[0].qabsmax.size() +
                                               bnb[0].absmax2.size() * 4 + 1024) +
                           out_bytes;

  for (Nf4OutType type : {Nf4OutType::F16, Nf4OutType::BF16}) {
    for (bool bnb_layout : {false, true}) {
      auto launch_on = [&](int k, cudaStream_t stream) {
        if (bnb_layout)
          CHECK_CUDA(launch_nf4_bnb_dequantize(bnb_weight(k), n, dout[k]->get(), type, stream));
        else
          CHECK_CUDA(launch_nf4_dequantize(dh[k]->get(), n / 64, dout[k]->get(), type, stream));
      };
      auto launch = [&](int k) { launch_on(k, nullptr); };
      char label[160];
      std::snprintf(label, sizeof label, "dequant %-6s -> %-4s hd=%lld m=%lld",
                    bnb_layout ? "bnb" : "hearth", type_name(type), static_cast<long long>(cfg.hd),
                    static_cast<long long>(cfg.m));
      for (int k = 0; k < 3; ++k) {
        launch(k);
        CHECK_CUDA(cudaDeviceSynchronize());
        const std::string what = std::string(label) + " " + names[k];
        if (bnb_layout)
          check_halves(*dout[k], n, type, what, [&](int64_t i) { return bnb_value(bnb[k], i); });
        else
          check_halves(*dout[k], n, type, what,
                       [&](int64_t i) { return hearth_value(hearth[k].data(), i); });
      }
      for (int w = 0; w < 3; ++w)
        for (int k = 0; k < 3; ++k) launch(k);
      CHECK_CUDA(cudaDeviceSynchronize());
      Events ev;
      ev.start();
      for (int it = 0; it < iterations; ++it)
        for (int k = 0; k < 3; ++k) launch(k);
      const float ms = ev.stop_ms();
      CHECK_CUDA(cudaGetLastError());
      const float ms_graph = graph_ms(3 * iterations, 1, [&](int i, cudaStream_t stream) {
        launch_on(i % 3, stream);  // up, gate, down, as the host loop
      });
      rows.push_back(
          {std::string(label) +
               (std::strcmp(type_name(type), cfg.seed_dtype) == 0 ? " (seed dtype)" : ""),
           ms, ms_graph, 3.0 * (bnb_layout ? bnb_bytes : hearth_bytes)});
    }
  }
}

// ------------------------------------------------------------------ GEMV (MATMUL)

hearth_tensor make_tensor(void* data, hearth_dtype dtype, int64_t ne0, int64_t ne1, int64_t nb0,
                          int64_t row_bytes) {
  hearth_tensor t{};
  t.data = data;
  t.dtype = dtype;
  t.n_dims = 2;
  t.ne[0] = ne0, t.ne[1] = ne1, t.ne[2] = 1, t.ne[3] = 1;
  t.nb[0] = nb0, t.nb[1] = row_bytes, t.nb[2] = row_bytes * ne1, t.nb[3] = t.nb[2];
  return t;
}

struct GemvCase {
  int64_t n_in;
  int64_t n_out;
  bool time_it;
  bool misaligned;  // weight at an odd address and padded activation rows (the slow paths)
  std::vector<int64_t> tokens;
  float x_scale = 1.0f;  // activations uniform in [-x_scale, x_scale]
};

struct GemvRow {
  std::string label;
  double ms;        // median single launch
  double ms_batch;  // mean of back-to-back launches (decode steps run that way)
  double ms_graph;  // the same launches captured in a CUDA graph and replayed (no host cost)
  double bytes;
};

void run_gemv(const GemvCase& c, size_t l2_bytes, std::vector<GemvRow>& rows) {
  Rng rng(static_cast<uint64_t>(c.n_in * 31 + c.n_out));
  const int64_t n = c.n_in * c.n_out;
  const std::vector<uint8_t> blocks = random_hearth_blocks(n, rng, true);
  const int64_t row_bytes = c.n_in / 64 * 36;
  std::vector<float> wf(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) wf[i] = hearth_value(blocks.data(), i);

  const int64_t max_tok = *std::max_element(c.tokens.begin(), c.tokens.end());
  const int64_t x_stride = c.misaligned ? c.n_in + 1 : c.n_in;  // floats per activation row
  std::vector<float> xf(static_cast<size_t>(x_stride * max_tok));
  for (auto& v : xf) v = c.x_scale * (2.0f * rng.uniform() - 1.0f);

  const size_t wbytes = blocks.size();
  const size_t copies =
      c.time_it ? std::max<size_t>(2, (3 * l2_bytes + wbytes - 1) / wbytes + 1) : 1;
  const size_t shift = c.misaligned ? 1 : 0;
  const size_t copy_stride = (wbytes + 255) / 256 * 256;
  DeviceBuffer dw(copy_stride * copies + 256);
  for (size_t k = 0; k < copies; ++k) upload(dw, k * copy_stride + shift, blocks);
  DeviceBuffer dx(xf.size() * 4);
  upload(dx, 0, xf);
  DeviceBuffer dd(static_cast<size_t>(c.n_out * max_tok) * 4);

  for (int64_t nt : c.tokens) {
    hearth_op op{};
    op.struct_size = sizeof(hearth_op);
    op.kind = HEARTH_OP_MATMUL;
    op.n_src = 2;
    op.src[0] = make_tensor(dw.get() + shift, HEARTH_DTYPE_NF4, c.n_in, c.n_out, 36, row_bytes);
    op.src[1] = make_tensor(dx.get(), HEARTH_DTYPE_F32, c.n_in, nt, 4, x_stride * 4);
    op.dst = make_tensor(dd.get(), HEARTH_DTYPE_F32, c.n_out, nt, 4, c.n_out * 4);
    CHECK_CUDA(cudaMemset(dd.get(), 0xFF, dd.bytes()));  // NaN: unwritten outputs fail
    CHECK_LAUNCH(launch_nf4_matmul(op, nullptr));
    CHECK_CUDA(cudaDeviceSynchronize());
    std::vector<float> got(static_cast<size_t>(c.n_out * nt));
    CHECK_CUDA(cudaMemcpy(got.data(), dd.get(), got.size() * 4, cudaMemcpyDeviceToHost));
    int64_t bad = 0;
    int64_t first = -1;
    double first_want = 0;
    double worst = 0;
    int64_t checked = 0;
    for (int64_t t = 0; t < nt; ++t) {
      // Long prompts: a sample of tokens (every tile position and the last) keeps the CPU short.
      if (nt > 16 && t % 7 != 0 && t != nt - 1) continue;
      checked += c.n_out;
      const float* x = xf.data() + t * x_stride;
      for (int64_t r = 0; r < c.n_out; ++r) {
        const float* w = wf.data() + r * c.n_in;
        double sum = 0;
        double mag = 0;
        for (int64_t i = 0; i < c.n_in; ++i) {
          const double p = static_cast<double>(w[i]) * x[i];
          sum += p;
          mag += std::fabs(p);
        }
        const float g = got[t * c.n_out + r];
        const double err = std::fabs(static_cast<double>(g) - sum);
        const double tol = 1e-4 * mag + 1e-30;
        worst = std::max(worst, err / (mag + 1e-30));
        if (!(err <= tol)) {  // NaN fails too
          if (first < 0) first = t * c.n_out + r, first_want = sum;
          ++bad;
        }
      }
    }
    char label[160];
    std::snprintf(label, sizeof label, "matmul NF4 %lldx%lld (n_in x n_out) tok=%lld%s%s",
                  static_cast<long long>(c.n_in), static_cast<long long>(c.n_out),
                  static_cast<long long>(nt), c.misaligned ? " (misaligned w, padded x)" : "",
                  c.x_scale > 1e3f    ? " (|x| up to 1e6)"
                  : c.x_scale < 1e-3f ? " (|x| up to 1e-6)"
                                      : "");
    char detail[256];
    if (bad == 0)
      std::snprintf(detail, sizeof detail,
                    "%lld outputs within 1e-4 * sum|w*x| (worst %.2e relative)",
                    static_cast<long long>(checked), worst);
    else
      std::snprintf(detail, sizeof detail,
                    "%lld of %lld outputs off; first [%lld]: got %.9g, want %.9g",
                    static_cast<long long>(bad), static_cast<long long>(checked),
                    static_cast<long long>(first), got[first], first_want);
    report(bad == 0, label, detail);

    if (!c.time_it || std::getenv("NF4_BENCH_NO_TIMING")) continue;
    auto launch_copy_on = [&](int rep, cudaStream_t stream) {
      hearth_op timed = op;
      timed.src[0].data = dw.get() + (static_cast<size_t>(rep) % copies) * copy_stride;
      CHECK_CUDA(launch_nf4_matmul(timed, stream));
    };
    auto launch_copy = [&](int rep) { launch_copy_on(rep, nullptr); };
    const float ms = median_ms(5, 30, launch_copy);
    constexpr int kBatch = 30;
    const float batch_ms = median_ms(1, 10, [&](int) {
      for (int i = 0; i < kBatch; ++i) launch_copy(i);
    });
    CHECK_CUDA(cudaGetLastError());
    rows.push_back({label, ms, batch_ms / kBatch, graph_ms(kBatch, 10, launch_copy_on) / kBatch,
                    static_cast<double>(wbytes) + 4.0 * c.n_in * nt + 4.0 * c.n_out * nt});
  }
}

}  // namespace

int main() {
  int device = 0;
  CHECK_CUDA(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  CHECK_CUDA(cudaGetDeviceProperties(&prop, device));
  std::printf("nf4_bench on %s (sm_%d%d, %d SMs, L2 %d MiB)\n", prop.name, prop.major, prop.minor,
              prop.multiProcessorCount, prop.l2CacheSize >> 20);

  CHECK_CUDA(prepare_nf4_gemv_tma());
  check_nibble_order();
  const double copy_gbps = measure_copy_bandwidth();

  const MlpConfig configs[] = {
      {2048, 8192, 3407, "F16"}, {1024, 4096, 3409, "BF16"}, {4096, 14336, 3408, "BF16"}};
  constexpr int kIterations = 1000;
  std::vector<DequantRow> dq_rows;
  // NF4_BENCH_NO_TIMING: correctness launches only (one per kernel and shape, for a profiler).
  // NF4_BENCH_GEMV_ONLY: skip the dequantization cases (their checks and timing).
  if (!std::getenv("NF4_BENCH_NO_TIMING") && !std::getenv("NF4_BENCH_GEMV_ONLY"))
    for (const auto& cfg : configs) run_dequant(cfg, kIterations, dq_rows);

  const std::vector<GemvCase> gemv_cases = {
      {320, 37, false, true, {1, 3, 8, 11}},
      {1088, 45, false, false, {1, 2}},  // a row ends inside a chunk of the one-token kernel
      // sm_90's TMA GEMV (1-8 tokens, n_in a multiple of 256): rows not a multiple of its 16, a
      // row length that is not a whole number of its 768-column stages, and activations beyond
      // F16's range or below its normal range (it scales x by a power of two).
      {768, 37, false, false, {1, 2, 3, 5, 8}},
      // Rows shorter than one-token's three-group stage (its TMA box is wider than the matrix).
      {256, 45, false, false, {1, 2}},
      {512, 19, false, false, {1}},
      {5120, 45, false, false, {1, 4}},
      {1280, 29, false, false, {1}, 1.0e6f},
      {1280, 29, false, false, {1}, 1.0e-6f},
      // More 16-row tiles than one wave of CTAs holds, so CTAs loop over tiles (the last one
      // partial): rows of one group per stage and of three.
      {768, 16005, false, false, {1, 3, 8}},
      {5120, 8197, false, false, {1, 4}},
      {4096, 14336, true, false, {1, 2, 3, 4, 5, 8, 16, 64}},
      {14336, 4096, true, false, {1, 2, 3, 4, 5, 8, 16, 64}},
      {4096, 4096, true, false, {1, 2, 8}},
  };
  std::vector<GemvRow> mm_rows;
  for (const auto& c : gemv_cases) run_gemv(c, static_cast<size_t>(prop.l2CacheSize), mm_rows);

  std::printf("\nDequantization, seed-001 harness: %d iterations x (up, gate, down), CUDA events\n",
              kIterations);
  std::printf(
      "(bytes = codes + scales read + halves written; launches back to back, where the seed\n"
      " synchronized after each; hd=1024's 3 matrices (~32 MB) largely fit in L2, so its GB/s\n"
      " can exceed HBM copy bandwidth)\n");
  std::printf(
      "'stream' = the loop launched from the host; 'graph' = the same 3000 launches captured as\n"
      " one CUDA graph and replayed (launch overhead removed; the kernels are the same)\n");
  std::printf("%-58s %9s %9s %8s %7s | %9s %9s %8s %7s\n", "case", "stream ms", "us/matrix", "GB/s",
              "% copy", "graph ms", "us/matrix", "GB/s", "% copy");
  for (const auto& r : dq_rows) {
    const double g = gbps(r.bytes_per_iter * kIterations, r.ms_total);
    const double gg = gbps(r.bytes_per_iter * kIterations, r.ms_graph);
    std::printf("%-58s %9.2f %9.2f %8.1f %6.1f%% | %9.2f %9.2f %8.1f %6.1f%%\n", r.label.c_str(),
                r.ms_total, r.ms_total * 1e3 / (3.0 * kIterations), g, 100.0 * g / copy_gbps,
                r.ms_graph, r.ms_graph * 1e3 / (3.0 * kIterations), gg, 100.0 * gg / copy_gbps);
  }
  std::printf("\nMATMUL (fused dequant + GEMV), median of 30 after 5 warm-up, weights rotating\n");
  std::printf(
      "over copies > 3x L2 (bytes = weight blocks + activations + outputs); 'b2b' = mean\n");
  std::printf("of 30 back-to-back launches (median of 10 batches), as a decode step runs them;\n");
  std::printf("'graph' = the same 30 launches captured in a CUDA graph (no host launch cost)\n");
  std::printf("%-52s %8s %8s %7s %8s %8s %7s %8s %8s %7s\n", "case", "us", "GB/s", "% copy",
              "b2b us", "GB/s", "% copy", "graph us", "GB/s", "% copy");
  for (const auto& r : mm_rows) {
    const double g = gbps(r.bytes, r.ms);
    const double gb = gbps(r.bytes, r.ms_batch);
    const double gg = gbps(r.bytes, r.ms_graph);
    std::printf("%-52s %8.2f %8.1f %6.1f%% %8.2f %8.1f %6.1f%% %8.2f %8.1f %6.1f%%\n",
                r.label.c_str(), r.ms * 1e3, g, 100.0 * g / copy_gbps, r.ms_batch * 1e3, gb,
                100.0 * gb / copy_gbps, r.ms_graph * 1e3, gg, 100.0 * gg / copy_gbps);
  }
  std::printf("\n%s: %d failed case(s)\n", g_failures == 0 ? "ALL PASS" : "FAILURES", g_failures);
  return g_failures == 0 ? 0 : 1;
}
