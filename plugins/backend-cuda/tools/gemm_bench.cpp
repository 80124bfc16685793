// gemm_bench: the CUDA backend's MATMUL on Llama-2-7B shapes through the plugin ABI alone (no
// engine), once on a device opened with the cuBLAS route off (HEARTH_CUDA_CUBLAS_MIN_TOKENS=0,
// the built-in kernel) and once with it on (=1), for F16, Q4_0, Q8_0, Q4_K and Q6_K weights.
// Prints microseconds and TFLOP/s per op for token counts from decode (1) to pp512, and checks a
// sampled subset of every result against a CPU product of the weights decoded here from the GGUF
// block layouts (written from shared/specs/gguf.md, not from the backend). Prints PASS/FAIL per
// check and exits 1 if any failed. A GPU machine's tool, not a ctest.
// Build: target gemm_bench, or g++ -std=c++20 -O2 -I sdk/include gemm_bench.cpp -ldl
// Run: gemm_bench path/to/libhearth-backend-cuda.so [--quick]
#include <hearth/sdk/abi.h>
#include <hearth/sdk/half.hpp>

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

hearth_status* make_status(hearth_status_code code, const char* message) {
  std::fprintf(stderr, "  plugin error %d: %s\n", static_cast<int>(code), message);
  return reinterpret_cast<hearth_status*>(1);  // never released: the bench stops on errors
}

void print_log(const hearth_host_api*, hearth_log_level level, const char* plugin,
               const char* message) {
  if (level >= HEARTH_LOG_INFO) std::fprintf(stderr, "  [%s] %s\n", plugin, message);
}

struct WeightType {
  const char* name;
  hearth_dtype dtype;
  int64_t block_elems, block_bytes;
};

const WeightType kTypes[] = {{"F16", HEARTH_DTYPE_F16, 1, 2},
                             {"Q4_0", HEARTH_DTYPE_Q4_0, 32, 18},
                             {"Q8_0", HEARTH_DTYPE_Q8_0, 32, 34},
                             {"Q4_K", HEARTH_DTYPE_Q4_K, 256, 144},
                             {"Q6_K", HEARTH_DTYPE_Q6_K, 256, 210}};

void put_f16(uint8_t* p, float v) {
  const uint16_t h = hearth::sdk::fp32_to_fp16(v);
  std::memcpy(p, &h, 2);
}
float get_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return hearth::sdk::fp16_to_fp32(h);
}

// Random quants with realistic scales (a Llama weight's elements are of order 0.01-0.05).
std::vector<uint8_t> random_weights(const WeightType& t, int64_t n_in, int64_t n_out,
                                    std::mt19937& rng) {
  const int64_t blocks = n_in / t.block_elems * n_out;
  std::vector<uint8_t> bytes(static_cast<size_t>(blocks * t.block_bytes));
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> scale(0.0005f, 0.004f);
  std::normal_distribution<float> value(0.0f, 0.02f);
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* p = bytes.data() + b * t.block_bytes;
    switch (t.dtype) {
      case HEARTH_DTYPE_F16:
        put_f16(p, value(rng));
        break;
      case HEARTH_DTYPE_Q4_0:
      case HEARTH_DTYPE_Q8_0:
        put_f16(p, scale(rng) * (t.dtype == HEARTH_DTYPE_Q8_0 ? 0.3f : 2.0f));
        break;
      case HEARTH_DTYPE_Q4_K:  // d, dmin; the 6-bit sub-scales stay random
        put_f16(p, scale(rng) * 0.1f);
        put_f16(p + 2, scale(rng) * 0.1f);
        break;
      case HEARTH_DTYPE_Q6_K:  // d last; int8 sub-scales random
        put_f16(p + 208, scale(rng) * 0.01f);
        break;
      default:
        break;
    }
  }
  return bytes;
}

// ggml's dequantize_row_* for one row.
std::vector<double> decode_row(const WeightType& t, const uint8_t* row, int64_t n) {
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t b = 0; b < n / t.block_elems; ++b) {
    const uint8_t* p = row + b * t.block_bytes;
    double* y = out.data() + b * t.block_elems;
    switch (t.dtype) {
      case HEARTH_DTYPE_F16:
        y[0] = get_f16(p);
        break;
      case HEARTH_DTYPE_Q8_0:
        for (int i = 0; i < 32; ++i) y[i] = get_f16(p) * static_cast<int8_t>(p[2 + i]);
        break;
      case HEARTH_DTYPE_Q4_0:
        for (int i = 0; i < 16; ++i) {
          y[i] = get_f16(p) * ((p[2 + i] & 0x0F) - 8);
          y[i + 16] = get_f16(p) * ((p[2 + i] >> 4) - 8);
        }
        break;
      case HEARTH_DTYPE_Q4_K: {
        const double d = get_f16(p), dmin = get_f16(p + 2);
        const uint8_t* sc = p + 4;
        const uint8_t* q = p + 16;
        auto scale_min = [&](int j, int& s, int& m) {
          if (j < 4) {
            s = sc[j] & 63, m = sc[j + 4] & 63;
          } else {
            s = (sc[j + 4] & 0x0F) | ((sc[j - 4] >> 6) << 4);
            m = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
          }
        };
        for (int j = 0; j < 4; ++j) {
          int s1, m1, s2, m2;
          scale_min(2 * j, s1, m1);
          scale_min(2 * j + 1, s2, m2);
          for (int l = 0; l < 32; ++l) {
            y[64 * j + l] = d * s1 * (q[32 * j + l] & 0x0F) - dmin * m1;
            y[64 * j + 32 + l] = d * s2 * (q[32 * j + l] >> 4) - dmin * m2;
          }
        }
        break;
      }
      case HEARTH_DTYPE_Q6_K: {
        const double d = get_f16(p + 208);
        for (int h = 0; h < 2; ++h) {
          const uint8_t* ql = p + 64 * h;
          const uint8_t* qh = p + 128 + 32 * h;
          const auto* sc = reinterpret_cast<const int8_t*>(p + 192) + 8 * h;
          for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[128 * h + l] = d * sc[is] * q1;
            y[128 * h + l + 32] = d * sc[is + 2] * q2;
            y[128 * h + l + 64] = d * sc[is + 4] * q3;
            y[128 * h + l + 96] = d * sc[is + 6] * q4;
          }
        }
        break;
      }
      default:
        break;
    }
  }
  return out;
}

hearth_tensor tensor(void* data, hearth_dtype dt, int64_t ne0, int64_t ne1, int64_t elem_bytes,
                     int64_t row_bytes) {
  hearth_tensor t{};
  t.data = data;
  t.dtype = dt;
  t.n_dims = 2;
  t.ne[0] = ne0, t.ne[1] = ne1, t.ne[2] = 1, t.ne[3] = 1;
  t.nb[0] = elem_bytes;
  t.nb[1] = row_bytes, t.nb[2] = row_bytes * ne1, t.nb[3] = t.nb[2];
  return t;
}

// One opened device with the route chosen by HEARTH_CUDA_CUBLAS_MIN_TOKENS at open.
struct Device {
  const hearth_backend_api* api;
  void* handle = nullptr;
  Device(const hearth_backend_api* a, void* backend, const char* min_tokens) : api(a) {
    setenv("HEARTH_CUDA_CUBLAS_MIN_TOKENS", min_tokens, 1);
    if (api->open_device(backend, 0, nullptr, 0, &handle)) handle = nullptr;
  }
  ~Device() {
    if (handle) api->close_device(handle);
  }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
};

struct Buffers {
  const Device& dev;
  void *w = nullptr, *x = nullptr, *y = nullptr;
  Buffers(const Device& d, const std::vector<uint8_t>& host_w, const std::vector<float>& host_x,
          uint64_t y_bytes)
      : dev(d) {
    if (dev.api->alloc(dev.handle, host_w.size(), &w) ||
        dev.api->alloc(dev.handle, host_x.size() * 4, &x) ||
        dev.api->alloc(dev.handle, y_bytes, &y) ||
        dev.api->copy_to_device(dev.handle, w, host_w.data(), host_w.size()) ||
        dev.api->copy_to_device(dev.handle, x, host_x.data(), host_x.size() * 4)) {
      std::fprintf(stderr, "allocation or upload failed\n");
      std::exit(1);
    }
  }
  ~Buffers() {
    dev.api->free(dev.handle, w), dev.api->free(dev.handle, x), dev.api->free(dev.handle, y);
  }
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;
};

int g_failures = 0;

// Mean microseconds per op over reps after warm-ups; negative when run_op failed.
double time_op(const Device& dev, const hearth_op& op, int reps) {
  for (int i = 0; i < 2; ++i)
    if (dev.api->run_op(dev.handle, &op)) return -1;
  if (dev.api->synchronize(dev.handle)) return -1;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i)
    if (dev.api->run_op(dev.handle, &op)) return -1;
  if (dev.api->synchronize(dev.handle)) return -1;
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
         reps;
}

// Compares sampled outputs with a double-precision product. The bound covers what either route
// may do: weights and activations rounded to F16 (a relative 2^-11 each), then F32
// accumulation over n_in terms; a misplaced row, column or block scale lands far outside it.
bool check_sample(const WeightType& t, const std::vector<uint8_t>& host_w,
                  const std::vector<float>& host_x, const std::vector<float>& got, int64_t n_in,
                  int64_t n_out, int64_t n_tok, std::mt19937& rng, std::string& detail) {
  const int64_t row_bytes = n_in / t.block_elems * t.block_bytes;
  std::uniform_int_distribution<int64_t> pick_row(0, n_out - 1), pick_tok(0, n_tok - 1);
  int bad = 0;
  double worst = 0.0;
  for (int s = 0; s < 48; ++s) {
    const int64_t o = pick_row(rng), tk = pick_tok(rng);
    const auto w = decode_row(t, host_w.data() + o * row_bytes, n_in);
    double sum = 0.0, magnitude = 0.0;
    for (int64_t i = 0; i < n_in; ++i) {
      sum += w[i] * host_x[tk * n_in + i];
      magnitude += std::fabs(w[i] * host_x[tk * n_in + i]);
    }
    const double tol = magnitude * (2.1 / 2048.0 + static_cast<double>(n_in + 4) / 16777216.0);
    const double diff = std::fabs(got[tk * n_out + o] - sum);
    worst = std::max(worst, tol > 0 ? diff / tol : diff);
    if (!(diff <= tol) && bad++ == 0) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "out[%lld][%lld] = %g, want %g (tolerance %g)",
                    static_cast<long long>(tk), static_cast<long long>(o), got[tk * n_out + o], sum,
                    tol);
      detail = buf;
    }
  }
  if (bad == 0) {
    char buf[80];
    std::snprintf(buf, sizeof buf, "worst |diff| / tolerance %.3f", worst);
    detail = buf;
  }
  return bad == 0;
}

// The host side of run_op alone: a decode step's small ops queued without waiting, fewer than
// the launch queue holds so the GPU never pushes back, timed up to the last return.
constexpr int kHostOps = 400;
double host_us_per_op(const Device& dev) {
  void* buffer = nullptr;
  if (dev.api->alloc(dev.handle, 4096 * 4, &buffer)) return -1;
  hearth_op op{};
  op.struct_size = sizeof op;
  op.kind = HEARTH_OP_ADD;
  op.n_src = 2;
  op.dst = op.src[0] = op.src[1] = tensor(buffer, HEARTH_DTYPE_F32, 4096, 1, 4, 4096 * 4);
  double best = -1;
  for (int trial = 0; trial < 5; ++trial) {
    if (dev.api->synchronize(dev.handle)) return -1;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kHostOps; ++i)
      if (dev.api->run_op(dev.handle, &op)) return -1;
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
        kHostOps;
    if (best < 0 || us < best) best = us;
  }
  if (dev.api->synchronize(dev.handle)) return -1;
  dev.api->free(dev.handle, buffer);
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s path/to/libhearth-backend-cuda.so [--quick]\n", argv[0]);
    return 2;
  }
  const bool quick = argc > 2 && std::string(argv[2]) == "--quick";
  void* lib = dlopen(argv[1], RTLD_NOW);
  if (!lib) return std::fprintf(stderr, "dlopen: %s\n", dlerror()), 1;
  auto entry = reinterpret_cast<hearth_plugin_entry_fn>(dlsym(lib, "hearth_plugin_entry"));
  if (!entry) return std::fprintf(stderr, "no hearth_plugin_entry in %s\n", argv[1]), 1;
  const auto* desc = entry();
  hearth_host_api host{sizeof(host), 1, 0, nullptr, make_status, print_log};
  void* backend = nullptr;
  if (desc->create(&host, &backend)) return 1;
  const auto* api = static_cast<const hearth_backend_api*>(desc->api);
  if (api->device_count(backend) == 0) return std::fprintf(stderr, "no CUDA device\n"), 1;
  int status = 0;
  {
    const Device dev(api, backend, "16");
    if (!dev.handle) return std::fprintf(stderr, "open_device failed\n"), 1;
    std::printf("host us per run_op (ADD [4096], %d queued back to back): %.2f\n", kHostOps,
                host_us_per_op(dev));
  }
  {
    const Device kernel(api, backend, "0");
    const Device cublas(api, backend, "1");
    if (!kernel.handle || !cublas.handle) return std::fprintf(stderr, "open_device failed\n"), 1;
    struct Shape {
      int64_t n_in, n_out;
    };
    const Shape shapes[] = {{4096, 4096}, {4096, 11008}, {11008, 4096}};
    const std::vector<int64_t> tokens =
        quick ? std::vector<int64_t>{2, 8, 512} : std::vector<int64_t>{1, 2, 4, 8, 16, 64, 512};
    std::mt19937 rng(20240607);
    std::printf("%-5s %6s %6s %5s %12s %10s %12s %10s %8s  %s\n", "type", "n_in", "n_out", "n_tok",
                "kernel us", "TFLOP/s", "cublas us", "TFLOP/s", "speedup", "check (both routes)");
    for (const WeightType& t : kTypes) {
      for (const Shape& s : shapes) {
        if (quick && s.n_in != 4096) continue;
        const int64_t row_bytes = s.n_in / t.block_elems * t.block_bytes;
        const auto host_w = random_weights(t, s.n_in, s.n_out, rng);
        const int64_t max_tok = tokens.back();
        std::vector<float> host_x(static_cast<size_t>(s.n_in * max_tok));
        std::normal_distribution<float> nd;
        for (auto& v : host_x) v = nd(rng);
        const uint64_t y_bytes = static_cast<uint64_t>(s.n_out * max_tok) * 4;
        const Buffers on_kernel(kernel, host_w, host_x, y_bytes);
        const Buffers on_cublas(cublas, host_w, host_x, y_bytes);
        for (const int64_t n_tok : tokens) {
          double us[2];
          bool ok = true;
          std::string details;
          for (int route = 0; route < 2; ++route) {
            const Device& dev = route == 0 ? kernel : cublas;
            const Buffers& b = route == 0 ? on_kernel : on_cublas;
            hearth_op op{};
            op.struct_size = sizeof op;
            op.kind = HEARTH_OP_MATMUL;
            op.n_src = 2;
            op.dst = tensor(b.y, HEARTH_DTYPE_F32, s.n_out, n_tok, 4, s.n_out * 4);
            op.src[0] = tensor(b.w, t.dtype, s.n_in, s.n_out,
                               t.block_elems == 1 ? t.block_bytes : row_bytes, row_bytes);
            op.src[1] = tensor(b.x, HEARTH_DTYPE_F32, s.n_in, n_tok, 4, s.n_in * 4);
            const double flops = 2.0 * s.n_in * s.n_out * n_tok;
            const int reps = std::clamp(static_cast<int>(2e11 / flops), 3, 200);
            us[route] = time_op(dev, op, reps);
            std::vector<float> got(static_cast<size_t>(s.n_out * n_tok));
            std::string detail = "run_op failed";
            const bool pass =
                us[route] > 0 && !api->copy_to_host(dev.handle, got.data(), b.y, got.size() * 4) &&
                check_sample(t, host_w, host_x, got, s.n_in, s.n_out, n_tok, rng, detail);
            ok = ok && pass;
            details += std::string(route == 0 ? "kernel " : "; cublas ") + detail;
          }
          const double flops = 2.0 * s.n_in * s.n_out * n_tok;
          std::printf("%-5s %6lld %6lld %5lld %12.1f %10.2f %12.1f %10.2f %7.2fx  %s: %s\n", t.name,
                      static_cast<long long>(s.n_in), static_cast<long long>(s.n_out),
                      static_cast<long long>(n_tok), us[0], flops / us[0] / 1e6, us[1],
                      flops / us[1] / 1e6, us[0] / us[1], ok ? "PASS" : "FAIL", details.c_str());
          std::fflush(stdout);
          if (!ok) ++g_failures, status = 1;
        }
      }
    }
  }
  desc->destroy(backend);
  std::printf("%s: %d failed check(s)\n", g_failures ? "FAIL" : "PASS", g_failures);
  return status;
}
