// The cpu backend as a plugin: what it reports about the machine, the options its device takes,
// how many threads it runs, its memory, and that results do not depend on the thread count.
// Op numerics are tested in tests/conformance against the scalar reference.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../conformance/device_under_test.hpp"
#include "../conformance/random_inputs.hpp"
#include "../conformance/reference_ops.hpp"
#include "cpu_extensions.h"
#include "dequantize_blocks.hpp"
#include "file_mapping.hpp"
#include "interleaved_rows.hpp"
#include "quant_kernels.hpp"
#include "random_blocks.hpp"
#include "system_info.hpp"

namespace hearth::conformance {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<DeviceUnderTest> open_cpu(const DeviceUnderTest::OptionList& options = {}) {
  std::string skip;
  auto device = DeviceUnderTest::open("cpu", options, skip);
  if (!device) throw std::runtime_error("the cpu backend must always be there: " + skip);
  return device;
}

// open_device's error for these options ("" when it succeeds).
std::string open_error(const DeviceUnderTest::OptionList& options) {
  test::PluginUnderTest plugin(test::plugin_file("backend", "cpu"));
  const auto& api = plugin.api<hearth_backend_api>();
  std::vector<hearth_option> c_options;
  for (const auto& [k, v] : options) c_options.push_back({k.c_str(), v.c_str()});
  void* device = nullptr;
  auto status = test::take(
      api.open_device(plugin.instance(), 0, c_options.data(), c_options.size(), &device));
  if (status.ok()) {
    api.close_device(device);
    return "";
  }
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  return status.message();
}

uint32_t thread_count(const DeviceUnderTest& device) {
  auto fn = reinterpret_cast<hearth_cpu_device_threads_fn>(
      device.api().get_proc(device.backend_instance(), HEARTH_CPU_PROC_DEVICE_THREADS));
  if (!fn) throw std::runtime_error("the cpu backend lacks " HEARTH_CPU_PROC_DEVICE_THREADS);
  return fn(device.handle());
}

std::string prefill_matmul(const DeviceUnderTest& device) {
  auto fn = reinterpret_cast<hearth_cpu_prefill_matmul_fn>(
      device.api().get_proc(device.backend_instance(), HEARTH_CPU_PROC_PREFILL_MATMUL));
  if (!fn) throw std::runtime_error("the cpu backend lacks " HEARTH_CPU_PROC_PREFILL_MATMUL);
  return fn(device.handle());
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The value after "key:" on the first line that starts with key, trimmed.
std::string field(const std::string& text, const std::string& key) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(key, 0) != 0) continue;
    auto value = line.substr(line.find(':') + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t") + 1);
    return value;
  }
  return "";
}

class BackendCpu : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    rng_ = generator_for(std::string(info->test_suite_name()) + "." + info->name());
  }
  // MATMUL of random dtype weights (200 x 96) and n_tok tokens, oneDNN off and on.
  void expect_prompt_matmuls_meet_the_reference(hearth_dtype dtype, int64_t n_tok);
  std::mt19937_64 rng_;
  ::testing::ScopedTrace seed_trace_{__FILE__, __LINE__, seed_note()};
};

// ------------------------------------------------------------------ device info

TEST_F(BackendCpu, ReportsOneCpuDeviceDescribingThisMachine) {
  test::PluginUnderTest plugin(test::plugin_file("backend", "cpu"));
  const auto& api = plugin.api<hearth_backend_api>();
  ASSERT_EQ(api.device_count(plugin.instance()), 1u);
  hearth_device_info info{};
  ASSERT_TRUE(test::take(api.device_info(plugin.instance(), 0, &info)).ok());
  EXPECT_EQ(info.struct_size, sizeof info);
  EXPECT_EQ(info.type, HEARTH_DEVICE_CPU);
  EXPECT_STREQ(info.name, "cpu");

  const std::string model = field(read_text("/proc/cpuinfo"), "model name");
  if (!model.empty()) {
    EXPECT_EQ(std::string(info.description), model);
  }
  EXPECT_GT(std::string(info.description).size(), 0u);

  const std::string meminfo = read_text("/proc/meminfo");
  const uint64_t mem_total_kib = std::stoull(field(meminfo, "MemTotal"));
  EXPECT_EQ(info.memory_total, mem_total_kib * 1024);
  EXPECT_GT(info.memory_free, 0u);
  EXPECT_LE(info.memory_free, info.memory_total);
  EXPECT_EQ(info.compute_units, static_cast<uint32_t>(sysconf(_SC_NPROCESSORS_ONLN)));
}

TEST_F(BackendCpu, AsksForADeviceThatIsNotThere) {
  test::PluginUnderTest plugin(test::plugin_file("backend", "cpu"));
  const auto& api = plugin.api<hearth_backend_api>();
  hearth_device_info info{};
  auto status = test::take(api.device_info(plugin.instance(), 1, &info));
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  void* device = nullptr;
  status = test::take(api.open_device(plugin.instance(), 1, nullptr, 0, &device));
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), HasSubstr("no device 1"));
}

// ------------------------------------------------------------------ options and threads

TEST_F(BackendCpu, BadOptionsNameTheKey) {
  std::string message = open_error({{"threads", "abc"}});
  EXPECT_THAT(message, HasSubstr("'threads'"));
  EXPECT_THAT(message, HasSubstr("abc"));
  EXPECT_THAT(open_error({{"threads", "-2"}}), HasSubstr("'threads'"));
  EXPECT_THAT(open_error({{"threads", "4x"}}), HasSubstr("'threads'"));
  EXPECT_THAT(open_error({{"threads", "100000"}}), HasSubstr("'threads'"));
  EXPECT_THAT(open_error({{"onednn", "maybe"}}), HasSubstr("'onednn'"));
  EXPECT_THAT(open_error({{"profile", "sometimes"}}), HasSubstr("'profile'"));

  message = open_error({{"thread", "2"}});
  EXPECT_THAT(message, HasSubstr("unknown device option 'thread'"));
  EXPECT_THAT(message, HasSubstr("did you mean 'threads'"));
}

TEST_F(BackendCpu, RunsTheThreadCountAskedFor) {
  for (const char* n : {"1", "3", "8"}) {
    SCOPED_TRACE(std::string("threads=") + n);
    EXPECT_EQ(thread_count(*open_cpu({{"threads", n}})), static_cast<uint32_t>(std::stoi(n)));
  }
}

// Default: one thread per physical core among the CPUs this process may run on.
TEST_F(BackendCpu, DefaultsToOneThreadPerUsablePhysicalCore) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  std::set<std::pair<std::string, std::string>> cores;
  unsigned usable = 0;
  bool topology_known = true;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    ++usable;
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    const std::string package = read_text(dir + "physical_package_id");
    const std::string core = read_text(dir + "core_id");
    topology_known = topology_known && !package.empty() && !core.empty();
    cores.emplace(package, core);
  }
  const uint32_t expected = topology_known ? static_cast<uint32_t>(cores.size()) : usable;
  EXPECT_EQ(thread_count(*open_cpu()), expected);
  EXPECT_EQ(thread_count(*open_cpu({{"threads", "0"}})), expected);
}

TEST_F(BackendCpu, ReportsWhatRunsPromptMatmuls) {
  EXPECT_EQ(prefill_matmul(*open_cpu({{"onednn", "off"}})), "plain loop");
  const std::string with_default = prefill_matmul(*open_cpu());
  if (with_default == "oneDNN") {
    EXPECT_EQ(prefill_matmul(*open_cpu({{"onednn", "on"}})), "oneDNN");
  } else {
    EXPECT_EQ(with_default, "plain loop");
    EXPECT_THAT(open_error({{"onednn", "on"}}), HasSubstr("HEARTH_BACKEND_CPU_ONEDNN"));
  }
}

// ------------------------------------------------------------------ memory

TEST_F(BackendCpu, AllocatesAlignedMemoryAndRefusesNullCopies) {
  auto device = open_cpu();
  for (uint64_t bytes : {uint64_t{0}, uint64_t{1}, uint64_t{63}, uint64_t{1000}}) {
    DeviceBuffer buffer(*device, bytes);
    EXPECT_NE(buffer.data(), nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.data()) % 64, 0u) << bytes << " bytes";
  }
  const auto& api = device->api();
  api.free(device->handle(), nullptr);  // a no-op, as free(NULL)
  DeviceBuffer buffer(*device, 16);
  auto status = test::take(api.copy_to_device(device->handle(), buffer.data(), nullptr, 16));
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), HasSubstr("null source"));
  status = test::take(api.copy_to_host(device->handle(), nullptr, buffer.data(), 16));
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(test::take(api.copy_to_host(device->handle(), nullptr, nullptr, 0)).ok());
}

TEST_F(BackendCpu, FreeingAForeignPointerIsIgnoredNotACrash) {
  auto device = open_cpu();
  int on_stack = 0;
  device->api().free(device->handle(), &on_stack);
  void* ptr = nullptr;
  ASSERT_TRUE(test::take(device->api().alloc(device->handle(), 8, &ptr)).ok());
  device->api().free(device->handle(), ptr);
  device->api().free(device->handle(), ptr);  // twice
}

TEST_F(BackendCpu, ReleasesWhatIsStillAllocatedWhenClosed) {
  auto device = open_cpu();
  void* ptr = nullptr;
  ASSERT_TRUE(test::take(device->api().alloc(device->handle(), 1 << 20, &ptr)).ok());
  device.reset();  // LeakSanitizer fails the test if this leaks
}

// ------------------------------------------------------------------ layouts it refuses

TEST_F(BackendCpu, RefusesRowsOfBlocksThatOverlap) {
  auto device = open_cpu();
  auto w = device->upload(HostTensor::raw(HEARTH_DTYPE_Q8_0, {64, 3, 1, 1}, 2, 68));
  auto x = device->upload(HostTensor::f32({64, 1, 1, 1}, 2, std::vector<float>(64, 1.0f)));
  auto out = device->upload(HostTensor::output({3, 1, 1, 1}, 2));
  auto op = make_op(HEARTH_OP_MATMUL, out.descriptor(), {w.descriptor(), x.descriptor()});
  op.src[0].nb[1] = 34;  // one block, but a row holds two
  const auto status = device->run(op);
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), HasSubstr("nb[1] = 34"));
}

TEST_F(BackendCpu, SaysItNeedsContiguousRows) {
  auto device = open_cpu();
  auto a = device->upload(HostTensor::f32({4, 2, 1, 1}, 2, std::vector<float>(8, 1.0f)));
  auto op = make_op(HEARTH_OP_ADD, a.descriptor(), {a.descriptor(), a.descriptor()});
  op.src[1].nb[0] = 8;  // every other float
  const auto support = device->supports(op);
  EXPECT_EQ(support.code(), HEARTH_ERR_UNSUPPORTED);
  EXPECT_THAT(support.message(), HasSubstr("contiguous rows"));
}

// ------------------------------------------------------------------ threads change nothing

// Runs op built by make on a device with these options; returns dst's values.
template <class Make>
std::vector<float> run_on(const DeviceUnderTest::OptionList& options, Make make) {
  auto device = open_cpu(options);
  std::vector<DeviceTensor> inputs;
  DeviceTensor out{HostTensor{}, nullptr};
  const hearth_op op = make(*device, inputs, out);
  auto status = device->run(op);
  EXPECT_TRUE(status.ok()) << status.message();
  device->download(out);
  return out.host.dense_f32();
}

TEST_F(BackendCpu, ResultsAreBitIdenticalForAnyThreadCount) {
  const WeightMatrix w_q4 = random_weights(rng_, HEARTH_DTYPE_Q4_0, 256, 67);
  const WeightMatrix w_f32 = random_weights(rng_, HEARTH_DTYPE_F32, 100, 67);
  const auto x1 = normal_floats(rng_, 256, 1.0f);
  const auto x9 = normal_floats(rng_, 100 * 9, 1.0f);
  const auto q = normal_floats(rng_, 16 * 8 * 5, 1.0f);
  const auto kv = normal_floats(rng_, 16 * 2 * 12, 1.0f);

  auto decode_q4 = [&](const DeviceUnderTest& d, std::vector<DeviceTensor>& in, DeviceTensor& out) {
    in.push_back(d.upload(HostTensor::weights(w_q4)));
    in.push_back(d.upload(HostTensor::f32({256, 1, 1, 1}, 2, x1)));
    out = d.upload(HostTensor::output({67, 1, 1, 1}, 2));
    return make_op(HEARTH_OP_MATMUL, out.descriptor(), {in[0].descriptor(), in[1].descriptor()});
  };
  auto prefill_f32 = [&](const DeviceUnderTest& d, std::vector<DeviceTensor>& in,
                         DeviceTensor& out) {
    in.push_back(d.upload(HostTensor::weights(w_f32)));
    in.push_back(d.upload(HostTensor::f32({100, 9, 1, 1}, 2, x9)));
    out = d.upload(HostTensor::output({67, 9, 1, 1}, 2));
    return make_op(HEARTH_OP_MATMUL, out.descriptor(), {in[0].descriptor(), in[1].descriptor()});
  };
  auto attention_op = [&](const DeviceUnderTest& d, std::vector<DeviceTensor>& in,
                          DeviceTensor& out) {
    in.push_back(d.upload(HostTensor::f32({16, 8, 5, 1}, 3, q)));
    in.push_back(d.upload(HostTensor::f32({16, 2, 12, 1}, 3, kv)));
    in.push_back(d.upload(HostTensor::i32({7, 8, 9, 10, 11})));
    in.push_back(d.upload(HostTensor::i32({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})));
    out = d.upload(HostTensor::output({16, 8, 5, 1}, 3));
    auto op = make_op(HEARTH_OP_ATTENTION, out.descriptor(),
                      {in[0].descriptor(), in[1].descriptor(), in[1].descriptor(),
                       in[2].descriptor(), in[3].descriptor()});
    op.fparams[0] = 0.25f;
    return op;
  };
  auto attention_f16_kv = [&](const DeviceUnderTest& d, std::vector<DeviceTensor>& in,
                              DeviceTensor& out) {
    in.push_back(d.upload(HostTensor::f32({16, 8, 5, 1}, 3, q)));
    in.push_back(d.upload(HostTensor::floats(HEARTH_DTYPE_F16, {16, 2, 12, 1}, 3, kv)));
    in.push_back(d.upload(HostTensor::i32({7, 8, 9, 10, 11})));
    in.push_back(d.upload(HostTensor::i32({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})));
    out = d.upload(HostTensor::output({16, 8, 5, 1}, 3));
    auto op = make_op(HEARTH_OP_ATTENTION, out.descriptor(),
                      {in[0].descriptor(), in[1].descriptor(), in[1].descriptor(),
                       in[2].descriptor(), in[3].descriptor()});
    op.fparams[0] = 0.25f;
    return op;
  };
  const DeviceUnderTest::OptionList one = {{"threads", "1"}, {"onednn", "off"}};
  const DeviceUnderTest::OptionList four = {{"threads", "4"}, {"onednn", "off"}};
  EXPECT_EQ(run_on(one, decode_q4), run_on(four, decode_q4));
  EXPECT_EQ(run_on(one, prefill_f32), run_on(four, prefill_f32));
  EXPECT_EQ(run_on(one, attention_op), run_on(four, attention_op));
  EXPECT_EQ(run_on(one, attention_f16_kv), run_on(four, attention_f16_kv));
}

// Decode-shaped ops big enough that the pool splits them into its dynamic chunks (which thread
// runs which chunk changes from call to call): still bit-identical to one thread, run twice.
TEST_F(BackendCpu, DecodeOpsSplitAcrossThreadsAreBitIdentical) {
  const WeightMatrix w_q8 = random_weights(rng_, HEARTH_DTYPE_Q8_0, 512, 203);
  const WeightMatrix w_q4k = random_weights(rng_, HEARTH_DTYPE_Q4_K, 512, 101);
  const auto x = normal_floats(rng_, 512, 1.0f);
  const int64_t head_dim = 64, n_head = 32, n_head_kv = 4, n_kv = 40;
  const auto q = normal_floats(rng_, head_dim * n_head, 1.0f);
  const auto kv = normal_floats(rng_, head_dim * n_head_kv * n_kv, 1.0f);
  std::vector<int32_t> key_positions(n_kv);
  for (int32_t j = 0; j < n_kv; ++j) key_positions[static_cast<size_t>(j)] = j;

  auto matmul = [&](const WeightMatrix& w) {
    return [&w, &x](const DeviceUnderTest& d, std::vector<DeviceTensor>& in, DeviceTensor& out) {
      in.push_back(d.upload(HostTensor::weights(w)));
      in.push_back(d.upload(HostTensor::f32({w.n_in, 1, 1, 1}, 2, x)));
      out = d.upload(HostTensor::output({w.n_out, 1, 1, 1}, 2));
      return make_op(HEARTH_OP_MATMUL, out.descriptor(), {in[0].descriptor(), in[1].descriptor()});
    };
  };
  auto attention = [&](const DeviceUnderTest& d, std::vector<DeviceTensor>& in, DeviceTensor& out) {
    in.push_back(d.upload(HostTensor::f32({head_dim, n_head, 1, 1}, 3, q)));
    in.push_back(
        d.upload(HostTensor::floats(HEARTH_DTYPE_F16, {head_dim, n_head_kv, n_kv, 1}, 3, kv)));
    in.push_back(d.upload(HostTensor::i32({static_cast<int32_t>(n_kv - 1)})));
    in.push_back(d.upload(HostTensor::i32(key_positions)));
    out = d.upload(HostTensor::output({head_dim, n_head, 1, 1}, 3));
    auto op = make_op(HEARTH_OP_ATTENTION, out.descriptor(),
                      {in[0].descriptor(), in[1].descriptor(), in[1].descriptor(),
                       in[2].descriptor(), in[3].descriptor()});
    op.fparams[0] = 0.125f;
    return op;
  };
  const DeviceUnderTest::OptionList one = {{"threads", "1"}, {"onednn", "off"}};
  for (const char* threads : {"2", "3"}) {
    SCOPED_TRACE(std::string("threads=") + threads);
    const DeviceUnderTest::OptionList many = {{"threads", threads}, {"onednn", "off"}};
    for (int repeat = 0; repeat < 2; ++repeat) {
      EXPECT_EQ(run_on(one, matmul(w_q8)), run_on(many, matmul(w_q8)));
      EXPECT_EQ(run_on(one, matmul(w_q4k)), run_on(many, matmul(w_q4k)));
      EXPECT_EQ(run_on(one, attention), run_on(many, attention));
    }
  }
}

// profile=on (or HEARTH_CPU_PROFILE=1) makes the device print where its time went when it
// closes: the ops it ran, by kind and weight type, and the pool's split ops.
TEST_F(BackendCpu, ProfilePrintsTheOpTableWhenTheDeviceCloses) {
  const WeightMatrix w = random_weights(rng_, HEARTH_DTYPE_Q8_0, 256, 64);
  const auto x = normal_floats(rng_, 256, 1.0f);
  ::testing::internal::CaptureStderr();
  {
    auto device = open_cpu({{"threads", "2"}, {"profile", "on"}});
    std::vector<DeviceTensor> in;
    in.push_back(device->upload(HostTensor::weights(w)));
    in.push_back(device->upload(HostTensor::f32({256, 1, 1, 1}, 2, x)));
    DeviceTensor out = device->upload(HostTensor::output({64, 1, 1, 1}, 2));
    const hearth_op op =
        make_op(HEARTH_OP_MATMUL, out.descriptor(), {in[0].descriptor(), in[1].descriptor()});
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(device->run(op).ok());
    device->download(out);  // a copy_to_host ends a decode step
  }
  const std::string printed = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(printed, HasSubstr("cpu: op profile, 2 threads"));
  EXPECT_THAT(printed, HasSubstr("1 decode tokens"));
  EXPECT_THAT(printed, HasSubstr("MATMUL (Q8_0)"));
  EXPECT_THAT(printed, HasSubstr("pool:"));

  // Off (the default): nothing printed.
  ::testing::internal::CaptureStderr();
  { auto device = open_cpu({{"threads", "2"}, {"profile", "off"}}); }
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), ::testing::Not(HasSubstr("op profile")));
}

// ------------------------------------------------------------------ F16 KV cache

// Keys and values share one cache type; a half-F16 cache is an engine bug, said as such.
TEST_F(BackendCpu, RefusesAKvCacheOfMixedTypes) {
  auto device = open_cpu();
  const std::vector<float> ones(16, 1.0f);
  auto q = device->upload(HostTensor::f32({8, 1, 1, 1}, 3, std::vector<float>(8, 1.0f)));
  auto k32 = device->upload(HostTensor::f32({8, 1, 2, 1}, 3, ones));
  auto v16 = device->upload(HostTensor::floats(HEARTH_DTYPE_F16, {8, 1, 2, 1}, 3, ones));
  auto pq = device->upload(HostTensor::i32({1}));
  auto pk = device->upload(HostTensor::i32({0, 1}));
  auto out = device->upload(HostTensor::output({8, 1, 1, 1}, 3));
  auto op = make_op(
      HEARTH_OP_ATTENTION, out.descriptor(),
      {q.descriptor(), k32.descriptor(), v16.descriptor(), pq.descriptor(), pk.descriptor()});
  op.fparams[0] = 1.0f;
  const auto support = device->supports(op);
  EXPECT_EQ(support.code(), HEARTH_ERR_UNSUPPORTED);
  EXPECT_THAT(support.message(), HasSubstr("all F32 or all F16"));
  op.src[1].dtype = HEARTH_DTYPE_BF16;  // a BF16 cache is not one the cpu backend keeps
  op.src[1].nb[1] = 16;
  op.src[1].nb[2] = 16;
  op.src[1].nb[0] = 2;
  EXPECT_THAT(device->supports(op).message(), HasSubstr("k src[1] has dtype BF16"));
}

// COPY reads each row before writing its own; overlapping buffers would read converted bytes.
TEST_F(BackendCpu, RefusesACopyOntoItsOwnSource) {
  auto device = open_cpu();
  auto buf = device->upload(HostTensor::f32({8, 2, 1, 1}, 2, std::vector<float>(16, 1.0f)));
  auto op = make_op(HEARTH_OP_COPY, buf.descriptor(), {buf.descriptor()});
  op.dst.dtype = HEARTH_DTYPE_F16;  // the F16 view of the same bytes, rows 16 bytes apart
  op.dst.nb[0] = 2;
  EXPECT_TRUE(device->supports(op).ok()) << "the descriptors alone are fine";
  const auto status = device->run(op);
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), HasSubstr("overlaps"));
}

// The plain loop and oneDNN (when built) both meet the reference on prompt-sized matmuls: F32
// weights directly, F16 and BF16 (from 80 tokens on) as rows expanded to F32.
TEST_F(BackendCpu, PlainAndOneDnnPromptMatmulsMeetTheReference) {
  for (const hearth_dtype dtype : {HEARTH_DTYPE_F32, HEARTH_DTYPE_F16, HEARTH_DTYPE_BF16})
    for (const int64_t n_tok : {33, 90}) {
      SCOPED_TRACE(std::to_string(n_tok) + " tokens of dtype " + std::to_string(dtype));
      expect_prompt_matmuls_meet_the_reference(dtype, n_tok);
    }
}

void BackendCpu::expect_prompt_matmuls_meet_the_reference(hearth_dtype dtype, int64_t n_tok) {
  const WeightMatrix w = random_weights(rng_, dtype, 200, 96);
  const auto x = normal_floats(rng_, 200 * n_tok, 1.0f);
  const Expected want = matmul(w, x, n_tok);
  for (const char* onednn : {"off", "on"}) {
    SCOPED_TRACE(std::string("onednn=") + onednn);
    std::unique_ptr<DeviceUnderTest> device;
    if (std::string(onednn) == "on") {
      device = open_cpu();
      if (prefill_matmul(*device) != "oneDNN") GTEST_SKIP() << "this build has no oneDNN";
    } else {
      device = open_cpu({{"onednn", "off"}});
    }
    auto w_t = device->upload(HostTensor::weights(w));
    auto x_t = device->upload(HostTensor::f32({200, n_tok, 1, 1}, 2, x));
    auto out = device->upload(HostTensor::output({96, n_tok, 1, 1}, 2));
    ASSERT_TRUE(
        device
            ->run(make_op(HEARTH_OP_MATMUL, out.descriptor(), {w_t.descriptor(), x_t.descriptor()}))
            .ok());
    device->download(out);
    const auto got = out.host.dense_f32();
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_LE(std::fabs(got[i] - want.value[i]), want.tolerance[i]) << "element " << i;
  }
}

// Two host threads sharing one device: run_op calls are serialised on its pool, none is lost.
TEST_F(BackendCpu, SeveralHostThreadsCanShareADevice) {
  auto device = open_cpu({{"threads", "2"}});
  const WeightMatrix w = random_weights(rng_, HEARTH_DTYPE_F16, 64, 300);
  const auto x = normal_floats(rng_, 64, 1.0f);
  const Expected want = matmul(w, x, 1);
  auto w_t = device->upload(HostTensor::weights(w));
  auto x_t = device->upload(HostTensor::f32({64, 1, 1, 1}, 2, x));
  auto work = [&](std::vector<float>& result) {
    auto out = device->upload(HostTensor::output({300, 1, 1, 1}, 2));
    const auto op =
        make_op(HEARTH_OP_MATMUL, out.descriptor(), {w_t.descriptor(), x_t.descriptor()});
    for (int i = 0; i < 50; ++i)
      if (!device->run(op).ok()) return;
    device->download(out);
    result = out.host.dense_f32();
  };
  std::vector<float> a, b;
  std::thread other([&] { work(b); });
  work(a);
  other.join();
  ASSERT_EQ(a.size(), want.value.size());
  EXPECT_EQ(a, b);
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_LE(std::fabs(a[i] - want.value[i]), want.tolerance[i]);
}

// ------------------------------------------------------------------ every GGUF weight type

// Through the plugin, MATMUL of every quantized type gives exactly what its kernel gives on
// activations quantized as ggml does (whatever the tiling, token grouping and threads), on
// views with row gaps; EMBEDDING gives ggml's dequantized rows bit for bit. The kernels'
// numerics are tested in quant_kernels_test.cpp.
TEST_F(BackendCpu, MultipliesAndLooksUpEveryQuantizedWeightType) {
  auto device = open_cpu({{"threads", "2"}});
  const int64_t n_in = 512, n_out = 37;
  for (const auto& layout : backend_cpu::test::kQuantLayouts) {
    SCOPED_TRACE(layout.name);
    const int64_t row_bytes = n_in / layout.block_elems * layout.block_bytes;
    HostTensor w = HostTensor::raw(layout.dtype, {n_in, n_out, 1, 1}, 2, row_bytes);
    const auto blocks = backend_cpu::test::random_blocks(rng_, layout.dtype, n_in, n_out);
    std::memcpy(w.bytes.data(), blocks.data(), blocks.size());
    auto w_t = device->upload(w);
    const auto* kernels = backend_cpu::quant_type_kernels(layout.dtype);
    ASSERT_NE(kernels, nullptr);
    // 70 tokens: the interleaved GEMM's token chunks of 32, with 2 left for the GEMV.
    for (int64_t n_tok : {1, 3, 13, 70}) {
      SCOPED_TRACE("n_tok=" + std::to_string(n_tok));
      const auto x = normal_floats(rng_, n_in * n_tok, 1.0f);
      auto x_t = device->upload(HostTensor::f32({n_in, n_tok, 1, 1}, 2, x, 32));
      auto out = device->upload(HostTensor::output({n_out, n_tok, 1, 1}, 2, 3));
      const auto status = device->run(
          make_op(HEARTH_OP_MATMUL, out.descriptor(), {w_t.descriptor(), x_t.descriptor()}));
      ASSERT_TRUE(status.ok()) << status.message();
      device->download(out);
      const auto got = out.host.dense_f32();
      std::vector<std::byte> act(
          static_cast<size_t>(backend_cpu::activation_row_bytes(layout.dtype, n_in)));
      for (int64_t t = 0; t < n_tok; ++t) {
        kernels->quantize_activations(x.data() + t * n_in, act.data(), n_in);
        for (int64_t r = 0; r < n_out; ++r) {
          // Several tokens go through the type's tile kernel where it has one (quant_tiles.hpp),
          // whose value for one row x one token is the same bits in any tile.
          const char* row = reinterpret_cast<const char*>(blocks.data()) + r * row_bytes;
          float want = kernels->dot(n_in, row, act.data());
          // Full groups of 8 rows of the types with an interleaved layout take its kernel for
          // any number of tokens (interleaved_rows.hpp): the GEMV, or the prompt GEMM whose
          // values are the GEMV's bits.
          if (const auto gemv = backend_cpu::interleaved_gemv(layout.dtype);
              gemv != nullptr && r < n_out / 8 * 8) {
            const int64_t n_blocks = n_in / 32;
            std::vector<char> group(
                static_cast<size_t>(backend_cpu::interleaved_group_bytes(layout.dtype, n_in)));
            std::vector<backend_cpu::ActivationBlockInfo> info(static_cast<size_t>(n_blocks));
            const char* first =
                reinterpret_cast<const char*>(blocks.data()) + r / 8 * 8 * row_bytes;
            backend_cpu::interleave_rows(layout.dtype, first, row_bytes, n_in, group.data());
            backend_cpu::describe_activations(layout.dtype, act.data(), info.data(), n_in);
            float group_out[8];
            gemv(n_in, group.data(), act.data(), info.data(), group_out);
            want = group_out[r % 8];
          } else if (n_tok > 1 && kernels->tile != nullptr &&
                     backend_cpu::interleaved_gemv(layout.dtype) == nullptr) {
            const char* act_row = reinterpret_cast<const char*>(act.data());
            float* want_row = &want;
            kernels->tile(n_in, {row, row_bytes, 1, &act_row, &want_row, 1});
          }
          ASSERT_EQ(got[t * n_out + r], want) << "row " << r << " token " << t;
        }
      }
    }
    const std::vector<int32_t> ids = {0, 36, 5, 5};
    auto ids_t = device->upload(HostTensor::i32(ids));
    auto rows = device->upload(HostTensor::output({n_in, 4, 1, 1}, 2));
    const auto status = device->run(
        make_op(HEARTH_OP_EMBEDDING, rows.descriptor(), {w_t.descriptor(), ids_t.descriptor()}));
    ASSERT_TRUE(status.ok()) << status.message();
    device->download(rows);
    const auto got = rows.host.dense_f32();
    std::vector<float> want(static_cast<size_t>(n_in));
    for (size_t i = 0; i < ids.size(); ++i) {
      backend_cpu::dequantize_blocks(layout.dtype, blocks.data() + ids[i] * row_bytes, want.data(),
                                     n_in);
      EXPECT_EQ(0, std::memcmp(got.data() + i * n_in, want.data(), n_in * sizeof(float)))
          << "embedding row " << ids[i];
    }
  }
}

// The interleaved prompt GEMM splits (row group, token chunk) units across the pool and runs
// tokens 4 at a time, the rest one by one: no value may depend on the thread count, the token
// count or a token's place in the prompt. Each token of a 70-token prompt, on 1, 2 and 3
// threads, equals the same token run alone (decode) bit for bit; rows past the last group of 8
// included.
TEST_F(BackendCpu, InterleavedPromptMatmulDoesNotDependOnThreadsOrTokens) {
  const int64_t n_in = 512, n_out = 8 * 5 + 3, n_tok = 70;
  for (hearth_dtype dtype :
       {HEARTH_DTYPE_Q4_0, HEARTH_DTYPE_Q4_1, HEARTH_DTYPE_Q5_0, HEARTH_DTYPE_Q5_1,
        HEARTH_DTYPE_Q8_0, HEARTH_DTYPE_Q2_K, HEARTH_DTYPE_Q3_K, HEARTH_DTYPE_Q4_K,
        HEARTH_DTYPE_Q5_K, HEARTH_DTYPE_Q6_K}) {
    if (backend_cpu::interleaved_gemm(dtype) == nullptr) GTEST_SKIP() << "no AVX2 on this CPU";
    const auto& layout = backend_cpu::test::quant_layout(dtype);
    SCOPED_TRACE(layout.name);
    const int64_t row_bytes = n_in / layout.block_elems * layout.block_bytes;
    HostTensor w = HostTensor::raw(dtype, {n_in, n_out, 1, 1}, 2, row_bytes);
    const auto blocks = backend_cpu::test::random_blocks(rng_, dtype, n_in, n_out);
    std::memcpy(w.bytes.data(), blocks.data(), blocks.size());
    const auto x = normal_floats(rng_, n_in * n_tok, 1.0f);
    std::vector<std::vector<float>> results;
    for (const char* threads : {"1", "2", "3"}) {
      auto device = open_cpu({{"threads", threads}});
      auto w_t = device->upload(w);
      auto x_t = device->upload(HostTensor::f32({n_in, n_tok, 1, 1}, 2, x));
      auto out = device->upload(HostTensor::output({n_out, n_tok, 1, 1}, 2));
      ASSERT_TRUE(device
                      ->run(make_op(HEARTH_OP_MATMUL, out.descriptor(),
                                    {w_t.descriptor(), x_t.descriptor()}))
                      .ok());
      device->download(out);
      results.push_back(out.host.dense_f32());
      if (results.size() > 1) {
        ASSERT_EQ(results.back(), results.front()) << threads << " threads";
        continue;
      }
      for (int64_t t : {0, 1, 31, 32, 67, 69}) {  // chunk edges and the GEMV's leftover tokens
        const std::vector<float> xt(x.begin() + t * n_in, x.begin() + (t + 1) * n_in);
        auto one_x = device->upload(HostTensor::f32({n_in, 1, 1, 1}, 2, xt));
        auto one_out = device->upload(HostTensor::output({n_out, 1, 1, 1}, 2));
        ASSERT_TRUE(device
                        ->run(make_op(HEARTH_OP_MATMUL, one_out.descriptor(),
                                      {w_t.descriptor(), one_x.descriptor()}))
                        .ok());
        device->download(one_out);
        const auto one = one_out.host.dense_f32();
        for (int64_t r = 0; r < n_out; ++r)
          ASSERT_EQ(results.front()[static_cast<size_t>(t * n_out + r)],
                    one[static_cast<size_t>(r)])
              << "row " << r << " token " << t;
      }
    }
  }
}

// ------------------------------------------------------------------ interleaved weight copies

// MATMUL of a Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q2_K/Q3_K/Q4_K/Q5_K/Q6_K weight at `data` (n_in x n_out,
// rows packed) with x (n_tok tokens).
std::vector<float> matmul_at(const DeviceUnderTest& device, hearth_dtype dtype, const void* data,
                             int64_t n_in, int64_t n_out, const std::vector<float>& x) {
  const int64_t n_tok = static_cast<int64_t>(x.size()) / n_in;
  const auto& layout = backend_cpu::test::quant_layout(dtype);
  HostTensor w = HostTensor::raw(dtype, {n_in, n_out, 1, 1}, 2,
                                 n_in / layout.block_elems * layout.block_bytes);
  auto x_t = device.upload(HostTensor::f32({n_in, n_tok, 1, 1}, 2, x));
  auto out = device.upload(HostTensor::output({n_out, n_tok, 1, 1}, 2));
  const auto status =
      device.run(make_op(HEARTH_OP_MATMUL, out.descriptor(),
                         {w.descriptor(const_cast<void*>(data)), x_t.descriptor()}));
  EXPECT_TRUE(status.ok()) << status.message();
  device.download(out);
  return out.host.dense_f32();
}

// The device keeps interleaved copies of weights keyed by pointer: writing new weights into the
// same buffer must not leave the old copy in use, and one row x one token has the same bits
// whatever the token count and thread count (full groups of 8 and the odd rows after them).
TEST_F(BackendCpu, InterleavedWeightCopiesFollowTheWeights) {
  const int64_t n_in = 256, n_out = 45;
  for (hearth_dtype dtype :
       {HEARTH_DTYPE_Q4_0, HEARTH_DTYPE_Q4_1, HEARTH_DTYPE_Q5_0, HEARTH_DTYPE_Q5_1,
        HEARTH_DTYPE_Q8_0, HEARTH_DTYPE_Q2_K, HEARTH_DTYPE_Q3_K, HEARTH_DTYPE_Q4_K,
        HEARTH_DTYPE_Q5_K, HEARTH_DTYPE_Q6_K}) {
    SCOPED_TRACE(backend_cpu::test::quant_layout(dtype).name);
    const auto first = backend_cpu::test::random_blocks(rng_, dtype, n_in, n_out);
    const auto second = backend_cpu::test::random_blocks(rng_, dtype, n_in, n_out);
    const auto x = normal_floats(rng_, n_in * 5, 1.0f);
    auto one = open_cpu({{"threads", "1"}});
    auto four = open_cpu({{"threads", "4"}});
    auto copy_in = [](const DeviceUnderTest& device, const DeviceBuffer& buffer,
                      const std::vector<std::byte>& blocks) {
      ASSERT_TRUE(test::take(device.api().copy_to_device(device.handle(), buffer.data(),
                                                         blocks.data(), blocks.size()))
                      .ok());
    };
    DeviceBuffer buffer(*four, first.size());
    DeviceBuffer fresh_first(*one, first.size()), fresh_second(*one, second.size());
    copy_in(*one, fresh_first, first);
    copy_in(*one, fresh_second, second);
    copy_in(*four, buffer, first);
    const auto got_first = matmul_at(*four, dtype, buffer.data(), n_in, n_out, x);
    EXPECT_EQ(got_first, matmul_at(*one, dtype, fresh_first.data(), n_in, n_out, x));
    copy_in(*four, buffer, second);
    const auto got_second = matmul_at(*four, dtype, buffer.data(), n_in, n_out, x);
    EXPECT_EQ(got_second, matmul_at(*one, dtype, fresh_second.data(), n_in, n_out, x));
    EXPECT_NE(got_first, got_second);
    // Token t of a 5-token op equals the same token alone.
    for (int64_t t = 0; t < 5; ++t) {
      const std::vector<float> xt(x.begin() + t * n_in, x.begin() + (t + 1) * n_in);
      const auto alone = matmul_at(*four, dtype, buffer.data(), n_in, n_out, xt);
      EXPECT_TRUE(std::equal(alone.begin(), alone.end(), got_second.begin() + t * n_out))
          << "token " << t;
    }
  }
}

// A temporary file of `bytes`, mapped read-only and private as the engine maps a model.
class MappedFile {
 public:
  explicit MappedFile(const std::vector<std::byte>& bytes) {
    char name[] = "/tmp/hearth-cpu-mapped-XXXXXX";
    fd_ = ::mkstemp(name);
    if (fd_ < 0) throw std::runtime_error("mkstemp failed");
    ::unlink(name);
    if (::write(fd_, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()))
      throw std::runtime_error("write failed");
    size_ = bytes.size();
    data_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
    if (data_ == MAP_FAILED) throw std::runtime_error("mmap failed");
  }
  ~MappedFile() {
    ::munmap(data_, size_);
    ::close(fd_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const void* data() const { return data_; }

 private:
  int fd_ = -1;
  size_t size_ = 0;
  void* data_ = nullptr;
};

// Weights used in place from a read-only file mapping (the model file) are copied and their
// pages released; the results are those of the same weights in device memory, and the mapping
// still reads back the file's bytes.
TEST_F(BackendCpu, WeightsInAReadOnlyFileMappingGiveTheSameResults) {
  const int64_t n_in = 2048, n_out = 67;
  const auto blocks = backend_cpu::test::random_blocks(rng_, HEARTH_DTYPE_Q4_0, n_in, n_out);
  const MappedFile file(blocks);
  ASSERT_TRUE(backend_cpu::in_read_only_file_mapping(file.data(), blocks.size()));
  const auto x = normal_floats(rng_, n_in * 2, 1.0f);
  auto device = open_cpu({{"threads", "2"}});
  const auto from_file = matmul_at(*device, HEARTH_DTYPE_Q4_0, file.data(), n_in, n_out, x);
  auto w_t =
      device->upload(HostTensor::raw(HEARTH_DTYPE_Q4_0, {n_in, n_out, 1, 1}, 2, n_in / 32 * 18));
  ASSERT_TRUE(test::take(device->api().copy_to_device(device->handle(), w_t.buffer->data(),
                                                      blocks.data(), blocks.size()))
                  .ok());
  EXPECT_EQ(from_file, matmul_at(*device, HEARTH_DTYPE_Q4_0, w_t.buffer->data(), n_in, n_out, x));
  EXPECT_EQ(0, std::memcmp(file.data(), blocks.data(), blocks.size()));
  // Heap memory is never taken for a file mapping (releasing its pages would lose data).
  EXPECT_FALSE(backend_cpu::in_read_only_file_mapping(blocks.data(), blocks.size()));
}

TEST(BackendCpuFileMapping, AcceptsOnlyRangesInsideReadOnlyPrivateFileMappings) {
  const std::string maps =
      "7f0000000000-7f0000010000 r--p 00000000 08:01 1234   /models/a.gguf\n"
      "7f0000010000-7f0000020000 rw-p 00000000 00:00 0 \n"
      "7f0000020000-7f0000030000 r--p 00000000 00:00 0      [anon]\n"
      "7f0000030000-7f0000040000 r--s 00000000 08:01 99     /dev/shm/x\n";
  const auto at = [](uintptr_t a) { return reinterpret_cast<const void*>(a); };
  using backend_cpu::in_read_only_file_mapping;
  EXPECT_TRUE(in_read_only_file_mapping(maps, at(0x7f0000000000), 0x10000));
  EXPECT_TRUE(in_read_only_file_mapping(maps, at(0x7f0000000100), 0x100));
  EXPECT_FALSE(in_read_only_file_mapping(maps, at(0x7f0000000100), 0x10000));  // runs past it
  EXPECT_FALSE(in_read_only_file_mapping(maps, at(0x7f0000010000), 16));       // writable
  EXPECT_FALSE(in_read_only_file_mapping(maps, at(0x7f0000020000), 16));       // no file
  EXPECT_FALSE(in_read_only_file_mapping(maps, at(0x7f0000030000), 16));       // shared
  EXPECT_FALSE(in_read_only_file_mapping(maps, at(0x7f0000050000), 16));       // unmapped
  EXPECT_FALSE(in_read_only_file_mapping("garbage\n\nxx-yy r--p\n", at(0x10), 1));
}

TEST_F(BackendCpu, RefusesKQuantRowsOfPartialSuperBlocks) {
  auto device = open_cpu();
  auto w = device->upload(HostTensor::raw(HEARTH_DTYPE_Q4_K, {128, 2, 1, 1}, 2, 72));
  auto x = device->upload(HostTensor::f32({128, 1, 1, 1}, 2, std::vector<float>(128, 1.0f)));
  auto out = device->upload(HostTensor::output({2, 1, 1, 1}, 2));
  const auto op = make_op(HEARTH_OP_MATMUL, out.descriptor(), {w.descriptor(), x.descriptor()});
  const auto support = device->supports(op);
  EXPECT_FALSE(support.ok());
  EXPECT_THAT(support.message(), HasSubstr("128"));
  EXPECT_THAT(support.message(), HasSubstr("block size 256"));
}

// ------------------------------------------------------------------ /proc and /sys parsers

TEST(BackendCpuSystemInfo, ReadsTheCpuModel) {
  using backend_cpu::parse_cpu_model;
  EXPECT_EQ(parse_cpu_model("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC "
                            "9R14 96-Core Processor\n"
                            "processor\t: 1\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n"),
            "AMD EPYC 9R14 96-Core Processor");
  EXPECT_EQ(parse_cpu_model("processor\t: 0\nBogoMIPS\t: 48.00\n\nHardware\t: BCM2835\n"),
            "BCM2835");
  EXPECT_EQ(parse_cpu_model("processor\t: 0\nmodel name\t:\n"), std::nullopt);
  EXPECT_EQ(parse_cpu_model(""), std::nullopt);
}

TEST(BackendCpuSystemInfo, ReadsMemory) {
  using backend_cpu::parse_meminfo;
  auto m = parse_meminfo(
      "MemTotal:       16318480 kB\nMemFree:         1000000 kB\nMemAvailable:   12000000 kB\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->total_bytes, 16318480ull * 1024);
  EXPECT_EQ(m->available_bytes, 12000000ull * 1024);
  // Kernels before 3.14 have no MemAvailable: free + page cache.
  m = parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 5 kB\nCached: 200 kB\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->available_bytes, 300ull * 1024);
  EXPECT_EQ(parse_meminfo("MemFree: 100 kB\n"), std::nullopt);
  EXPECT_EQ(parse_meminfo("MemTotal: lots\n"), std::nullopt);
}

TEST(BackendCpuSystemInfo, ReadsCpuLists) {
  using backend_cpu::parse_cpu_list;
  EXPECT_EQ(parse_cpu_list("0-3,8,10-11\n"), (std::vector<unsigned>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(parse_cpu_list("0"), (std::vector<unsigned>{0}));
  EXPECT_EQ(parse_cpu_list(""), std::nullopt);
  EXPECT_EQ(parse_cpu_list("3-1"), std::nullopt);
  EXPECT_EQ(parse_cpu_list("a-b"), std::nullopt);
  EXPECT_EQ(parse_cpu_list("0,,1"), std::nullopt);
}

TEST(BackendCpuSystemInfo, CountsPhysicalCoresNotHyperThreads) {
  using backend_cpu::count_physical_cores;
  // 2 sockets x 2 cores x 2 hyper-threads; core ids repeat across sockets.
  EXPECT_EQ(count_physical_cores({{0, 0}, {0, 1}, {1, 0}, {1, 1}, {0, 0}, {0, 1}, {1, 0}, {1, 1}}),
            4u);
  EXPECT_EQ(count_physical_cores({{0, 0}}), 1u);
  backend_cpu::SystemInfo info;
  info.physical_cores = 8;
  info.usable_cpus = 2;  // e.g. taskset or a container's cpuset
  EXPECT_EQ(backend_cpu::default_thread_count(info), 2u);
  info.physical_cores = 4;
  info.usable_cpus = 8;
  EXPECT_EQ(backend_cpu::default_thread_count(info), 4u);
}

}  // namespace
}  // namespace hearth::conformance
