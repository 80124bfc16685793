// Times the backend's MATMUL through the plugin ABI alone (no engine): a Llama-2-7B FFN weight
// (n_in 4096, n_out 11008) of each type, random bytes, one token (decode GEMV) and 512 tokens
// (prefill). Reports microseconds per op and the weight bytes streamed per second.
// Build: g++ -std=c++20 -O2 -I sdk/include matmul_bench.cpp -ldl; run: ./a.out PLUGIN.so
#include <hearth/sdk/abi.h>

#include <dlfcn.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

namespace {
hearth_status* make_status(hearth_status_code, const char* m) {
  std::fprintf(stderr, "status: %s\n", m);
  return reinterpret_cast<hearth_status*>(1);
}
hearth_tensor tensor(void* data, hearth_dtype dt, int64_t ne0, int64_t ne1, int64_t row_bytes) {
  hearth_tensor t{};
  t.data = data;
  t.dtype = dt;
  t.n_dims = 2;
  t.ne[0] = ne0, t.ne[1] = ne1, t.ne[2] = 1, t.ne[3] = 1;
  t.nb[0] = dt == HEARTH_DTYPE_F32 ? 4 : dt == HEARTH_DTYPE_F16 ? 2 : row_bytes;
  t.nb[1] = row_bytes, t.nb[2] = row_bytes * ne1, t.nb[3] = t.nb[2];
  return t;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  void* lib = dlopen(argv[1], RTLD_NOW);
  if (!lib) return std::printf("dlopen: %s\n", dlerror()), 1;
  auto* d = reinterpret_cast<hearth_plugin_entry_fn>(dlsym(lib, "hearth_plugin_entry"))();
  hearth_host_api host{sizeof(host), 1, 0, nullptr, make_status, nullptr};
  void* inst = nullptr;
  if (d->create(&host, &inst)) return 1;
  const auto* api = static_cast<const hearth_backend_api*>(d->api);
  void* dev = nullptr;
  if (api->device_count(inst) == 0 || api->open_device(inst, 0, nullptr, 0, &dev)) return 1;
  struct Type {
    const char* name;
    hearth_dtype dt;
    int64_t block_elems, block_bytes;
  };
  const Type types[] = {{"F16", HEARTH_DTYPE_F16, 1, 2},
                        {"Q8_0", HEARTH_DTYPE_Q8_0, 32, 34},
                        {"Q4_0", HEARTH_DTYPE_Q4_0, 32, 18},
                        {"Q4_K", HEARTH_DTYPE_Q4_K, 256, 144},
                        {"Q6_K", HEARTH_DTYPE_Q6_K, 256, 210}};
  const int64_t n_in = 4096, n_out = 11008;
  std::mt19937 rng(7);
  std::printf("%-5s %8s %10s %10s %12s %12s\n", "type", "MiB", "tg us/op", "tg GB/s", "pp512 us/op",
              "pp512 TFLOP/s");
  for (const Type& t : types) {
    const int64_t row_bytes = n_in / t.block_elems * t.block_bytes;
    const uint64_t wbytes = static_cast<uint64_t>(row_bytes * n_out);
    std::vector<uint8_t> host_w(wbytes);
    // Random bytes, with every 16-bit word kept a finite f16 (exponent < 31) so scales are real.
    for (size_t i = 0; i < host_w.size(); ++i) host_w[i] = static_cast<uint8_t>(rng());
    for (size_t i = 1; i < host_w.size(); i += 2) host_w[i] &= 0x3B;
    std::vector<float> host_x(static_cast<size_t>(n_in * 512));
    std::normal_distribution<float> nd;
    for (auto& v : host_x) v = nd(rng);
    void *w = nullptr, *x = nullptr, *y = nullptr;
    api->alloc(dev, wbytes, &w);
    api->alloc(dev, host_x.size() * 4, &x);
    api->alloc(dev, static_cast<uint64_t>(n_out) * 512 * 4, &y);
    api->copy_to_device(dev, w, host_w.data(), wbytes);
    api->copy_to_device(dev, x, host_x.data(), host_x.size() * 4);
    double us[2];
    for (int pass = 0; pass < 2; ++pass) {
      const int64_t n_tok = pass == 0 ? 1 : 512;
      hearth_op op{};
      op.struct_size = sizeof op;
      op.kind = HEARTH_OP_MATMUL;
      op.dst = tensor(y, HEARTH_DTYPE_F32, n_out, n_tok, n_out * 4);
      op.src[0] = tensor(w, t.dt, n_in, n_out, row_bytes);
      op.src[1] = tensor(x, HEARTH_DTYPE_F32, n_in, n_tok, n_in * 4);
      op.n_src = 2;
      const int reps = pass == 0 ? 200 : 10;
      for (int i = 0; i < 3; ++i) api->run_op(dev, &op);
      api->synchronize(dev);
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; ++i) api->run_op(dev, &op);
      api->synchronize(dev);
      us[pass] =
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
          reps;
    }
    std::printf("%-5s %8.1f %10.1f %10.0f %12.0f %12.2f\n", t.name, wbytes / 1048576.0, us[0],
                wbytes / us[0] / 1e3, us[1], 2.0 * n_in * n_out * 512 / us[1] / 1e6);
    api->free(dev, w), api->free(dev, x), api->free(dev, y);
  }
  api->close_device(dev);
  d->destroy(inst);
  return 0;
}
