// NF4 (shared/specs/nf4.md) end to end below the engine:
// - the code book, the decision-tree thresholds and the dynamic map are what the spec says;
// - nibble order and double quantization on hand-computed blocks;
// - the plugin's quantize -> dequantize equals a plain per-element implementation of the spec,
//   written here independently, bit for bit;
// - the cpu backend's NF4 kernels (scalar and AVX2; MATMUL for one and several tokens,
//   EMBEDDING) equal the reference: expansion bit for bit, dot products within float rounding;
// - the GPU backends' NF4 MATMUL on every CUDA kernel path, within the F16 bound of the sm_90
//   kernels (skipped without a device);
// - our GGUF reader and writer size NF4 tensors; bad input is refused with clear messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <hearth/sdk/abi.h>
#include <hearth/gguf.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "../conformance/device_under_test.hpp"
#include "../support/plugin_under_test.hpp"
#include "nf4_kernels.hpp"
#include "nf4_reference.hpp"
#include "quant_kernels.hpp"

namespace hearth::test {
namespace {

using ::testing::HasSubstr;
namespace nf4 = format_nf4;

// ------------------------------------------------------------------ the plugin, via its C ABI

class Nf4Plugin {
 public:
  Nf4Plugin() : plugin_(plugin_file("format", "nf4")) {}
  const hearth_format_api& api() const { return plugin_.api<hearth_format_api>(); }
  StatusResult dequantize(hearth_dtype dtype, const void* src, float* dst, int64_t n) const {
    return take(api().dequantize(plugin_.instance(), dtype, src, dst, n));
  }
  StatusResult quantize(const float* src, void* dst, int64_t rows, int64_t per_row,
                        hearth_dtype dtype = HEARTH_DTYPE_NF4) const {
    return take(api().quantize(plugin_.instance(), dtype, src, dst, rows, per_row, nullptr));
  }
  const hearth_plugin_descriptor& descriptor() const { return plugin_.descriptor(); }
  void* instance() const { return plugin_.instance(); }

 private:
  PluginUnderTest plugin_;
};

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }

// ------------------------------------------------------------------ a plain implementation of the
// spec

// The table of spec §1, typed in again.
constexpr double kSpecTable[16] = {-1.0,
                                   -0.6961928009986877,
                                   -0.5250730514526367,
                                   -0.39491748809814453,
                                   -0.28444138169288635,
                                   -0.18477343022823334,
                                   -0.09105003625154495,
                                   0.0,
                                   0.07958029955625534,
                                   0.16093020141124725,
                                   0.24611230194568634,
                                   0.33791524171829224,
                                   0.44070982933044434,
                                   0.5626170039176941,
                                   0.7229568362236023,
                                   1.0};

// Spec §2 step 4: the code is the number of midpoints (rounded to float32, as the CUDA
// quantizer's literals are) the value lies above.
uint8_t spec_code(float s) {
  uint8_t code = 0;
  for (int k = 0; k < 15; ++k)
    if (s > static_cast<float>((kSpecTable[k] + kSpecTable[k + 1]) / 2))
      code = static_cast<uint8_t>(k + 1);
  return code;
}

// Spec §2-3 over one flat tensor, element by element; returns the dequantized values.
std::vector<float> spec_round_trip(const std::vector<float>& x, const nf4::DynamicMap& code2) {
  const size_t n = x.size();
  const size_t nb = n / 64;
  std::vector<float> absmax(nb, 0.0f);
  std::vector<uint8_t> codes(n);
  for (size_t i = 0; i < n; ++i) absmax[i / 64] = std::max(absmax[i / 64], std::fabs(x[i]));
  for (size_t i = 0; i < n; ++i)
    codes[i] =
        absmax[i / 64] == 0.0f ? 7 : spec_code(std::clamp(x[i] / absmax[i / 64], -1.0f, 1.0f));
  double sum = 0;
  for (float a : absmax) sum += a;
  const auto offset = static_cast<float>(sum / static_cast<double>(nb));
  std::vector<float> absmax2((nb + 255) / 256, 0.0f);
  for (size_t b = 0; b < nb; ++b)
    absmax2[b / 256] = std::max(absmax2[b / 256], std::fabs(absmax[b] - offset));
  std::vector<float> out(n);
  std::vector<float> restored(nb);
  for (size_t b = 0; b < nb; ++b) {
    const float v = absmax2[b / 256] == 0.0f ? 0.0f : (absmax[b] - offset) / absmax2[b / 256];
    size_t best = 0;  // nearest code2 entry, the lower one on a tie
    for (size_t k = 1; k < 256; ++k)
      if (std::fabs(code2[k] - v) < std::fabs(code2[best] - v)) best = k;
    const float scaled = code2[best] * absmax2[b / 256];
    restored[b] = scaled + offset;
  }
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<float>(kSpecTable[codes[i]]) * restored[i / 64];
  return out;
}

std::vector<float> random_weights(std::mt19937& rng, size_t n) {
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> x(n);
  for (auto& v : x) v = normal(rng);
  return x;
}

// ------------------------------------------------------------------ tables

TEST(Nf4Table, MatchesTheSpec) {
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(bits(nf4::kNf4Values[static_cast<size_t>(i)]),
              bits(static_cast<float>(kSpecTable[i])))
        << i;
  EXPECT_TRUE(std::is_sorted(nf4::kNf4Values.begin(), nf4::kNf4Values.end()));
}

TEST(Nf4Table, DecisionTreeThresholdsAreTheMidpoints) {
  for (int k = 0; k < 15; ++k) {
    const auto mid = static_cast<float>((kSpecTable[k] + kSpecTable[k + 1]) / 2);
    EXPECT_EQ(nf4::nf4_code(mid), k) << "on threshold " << k;
    EXPECT_EQ(nf4::nf4_code(std::nextafter(mid, 2.0f)), k + 1) << "above threshold " << k;
  }
  EXPECT_EQ(nf4::nf4_code(-1.0f), 0);
  EXPECT_EQ(nf4::nf4_code(1.0f), 15);
  EXPECT_EQ(nf4::nf4_code(0.0f), 7);
}

TEST(Nf4Table, DynamicMapHasTheSpecsShape) {
  const auto map = nf4::dynamic_map();
  EXPECT_TRUE(std::is_sorted(map.begin(), map.end()));
  EXPECT_EQ(map[127], 0.0f);
  EXPECT_EQ(map[255], 1.0f);
  EXPECT_NEAR(map[0], -0.99297, 1e-5);
  float smallest = 1.0f;
  for (float v : map)
    if (v != 0.0f) smallest = std::min(smallest, std::fabs(v));
  EXPECT_NEAR(smallest, 5.5e-7, 0.1e-7);
  for (int i = 0; i < 127; ++i)
    EXPECT_EQ(map[static_cast<size_t>(i)], -map[static_cast<size_t>(254 - i)]) << i;
}

// FNV-1a of the 256 float32 values (little-endian) that bitsandbytes' create_dynamic_map() gave
// under torch 2.11.0 (CPU linspace), computed once on a machine with torch.
TEST(Nf4Table, DynamicMapIsTorchsBitForBit) {
  const auto map = nf4::dynamic_map();
  uint64_t hash = 0xcbf29ce484222325ull;
  for (float v : map) {
    const uint32_t u = bits(v);
    for (int k = 0; k < 4; ++k) {
      hash ^= (u >> (8 * k)) & 0xFF;
      hash *= 0x100000001b3ull;
    }
  }
  EXPECT_EQ(hash, 0xd677f22a96665bc4ull);
}

// ------------------------------------------------------------------ hand-computed blocks

TEST(Nf4Blocks, NibbleOrderIsHighFirst) {
  nf4::BlockNF4 block{};
  block.d = 0.5f;
  std::fill(std::begin(block.qs), std::end(block.qs), uint8_t{0x77});
  block.qs[0] = 0xF0;
  float out[64];
  nf4::dequantize_blocks(reinterpret_cast<const std::byte*>(&block), out, 64);
  EXPECT_EQ(out[0], 0.5f);   // code 15 = +1.0
  EXPECT_EQ(out[1], -0.5f);  // code 0 = -1.0
  EXPECT_EQ(out[2], 0.0f);
  // The same bytes through the plugin and the backend's kernels.
  float via_plugin[64];
  ASSERT_TRUE(Nf4Plugin().dequantize(HEARTH_DTYPE_NF4, &block, via_plugin, 64).ok());
  EXPECT_EQ(via_plugin[0], 0.5f);
  EXPECT_EQ(via_plugin[1], -0.5f);
  float scalar[64], simd[64];
  backend_cpu::dequantize_row_nf4(&block, scalar, 64);
  backend_cpu::nf4_dequantize_row(&block, simd, 64);
  EXPECT_EQ(scalar[0], 0.5f);
  EXPECT_EQ(simd[1], -0.5f);
}

TEST(Nf4Blocks, QuantizesAHandComputedBlock) {
  std::vector<float> x(64, 0.0f);
  x[0] = 2.0f;    // s = 1     -> code 15
  x[1] = -2.0f;   // s = -1    -> code 0
  x[3] = 1.0f;    // s = 0.5   -> below the 12/13 midpoint 0.50166 -> code 12
  x[4] = 0.08f;   // s = 0.04  -> above the 7/8 midpoint 0.03979 -> code 8
  x[5] = -0.09f;  // s = -0.045 -> above the 6/7 midpoint -0.04553 -> code 7
  const auto q = nf4::quantize_4bit(x, 64);
  ASSERT_EQ(q.packed.size(), 32u);
  EXPECT_EQ(q.absmax[0], 2.0f);
  EXPECT_EQ(q.packed[0], 0xF0);
  EXPECT_EQ(q.packed[1], 0x7C);
  EXPECT_EQ(q.packed[2], 0x87);
  EXPECT_EQ(q.packed[3], 0x77);
}

TEST(Nf4Blocks, DoubleQuantizesAHandComputedAbsmax) {
  const auto code2 = nf4::dynamic_map();
  // absmax {1, 3}: offset 2, centred {-1, +1}, absmax2 1 -> codes 0 (-0.99297) and 255 (1.0).
  const std::vector<float> absmax = {1.0f, 3.0f};
  const auto dq = nf4::double_quantize(absmax, code2);
  EXPECT_EQ(dq.offset, 2.0f);
  ASSERT_EQ(dq.absmax2.size(), 1u);
  EXPECT_EQ(dq.absmax2[0], 1.0f);
  EXPECT_EQ(dq.qabsmax, (std::vector<uint8_t>{0, 255}));
  const auto restored = nf4::dequantize_absmax(dq, code2);
  const float scaled = code2[0] * 1.0f;
  EXPECT_EQ(bits(restored[0]), bits(scaled + 2.0f));
  EXPECT_EQ(restored[1], 3.0f);
  // A second group starts at block 256 with its own absmax2.
  std::vector<float> many(300, 1.0f);
  many[299] = 5.0f;
  const auto dq2 = nf4::double_quantize(many, code2);
  ASSERT_EQ(dq2.absmax2.size(), 2u);
  const float offset = dq2.offset;
  EXPECT_EQ(dq2.absmax2[0], std::fabs(1.0f - offset));
  EXPECT_EQ(dq2.absmax2[1], std::fabs(5.0f - offset));
}

// ------------------------------------------------------------------ the plugin

TEST(Nf4Format, DescribesItsType) {
  Nf4Plugin p;
  EXPECT_EQ(p.descriptor().kind, HEARTH_KIND_FORMAT);
  ASSERT_EQ(p.api().type_count(p.instance()), 1u);
  hearth_format_type t{};
  ASSERT_TRUE(take(p.api().type_info(p.instance(), 0, &t)).ok());
  EXPECT_EQ(t.dtype, HEARTH_DTYPE_NF4);
  EXPECT_STREQ(t.name, "NF4");
  EXPECT_EQ(t.block_elems, 64u);
  EXPECT_EQ(t.block_bytes, 36u);
}

TEST(Nf4Format, RoundTripEqualsThePlainSpecBitForBit) {
  std::mt19937 rng(7);
  const auto code2 = nf4::dynamic_map();
  // 7 rows of 2624 = 287 blocks: two double-quantization groups, the second one short.
  for (auto [rows, per_row] : {std::pair<int64_t, int64_t>{7, 2624}, {3, 64}, {1, 320}}) {
    auto x = random_weights(rng, static_cast<size_t>(rows * per_row));
    x.at(5) = 0.5f;  // an outlier in the first block
    std::fill(x.begin() + 64, x.begin() + std::min<int64_t>(128, rows * per_row), 0.0f);
    Nf4Plugin p;
    std::vector<std::byte> blocks(static_cast<size_t>(rows * per_row / 64 * 36));
    ASSERT_TRUE(p.quantize(x.data(), blocks.data(), rows, per_row).ok());
    std::vector<float> got(x.size());
    ASSERT_TRUE(p.dequantize(HEARTH_DTYPE_NF4, blocks.data(), got.data(), rows * per_row).ok());
    const auto want = spec_round_trip(x, code2);
    size_t mismatches = 0;
    for (size_t i = 0; i < x.size(); ++i) mismatches += bits(got[i]) != bits(want[i]);
    EXPECT_EQ(mismatches, 0u) << rows << " x " << per_row;
  }
}

TEST(Nf4Format, RefusesBadInput) {
  Nf4Plugin p;
  std::vector<float> x(128, 1.0f);
  std::vector<std::byte> out(72);
  auto r = p.quantize(x.data(), out.data(), 1, 100);
  EXPECT_EQ(r.code(), HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(r.message(), HasSubstr("not a multiple of the NF4 block size 64"));
  x[70] = std::nanf("");
  r = p.quantize(x.data(), out.data(), 2, 64);
  EXPECT_THAT(r.message(), HasSubstr("row 1, column 6"));
  r = p.quantize(x.data(), out.data(), 1, 64, HEARTH_DTYPE_Q4_0);
  EXPECT_EQ(r.code(), HEARTH_ERR_UNSUPPORTED);
  float dst[64];
  r = p.dequantize(HEARTH_DTYPE_NF4, nullptr, dst, 64);
  EXPECT_THAT(r.message(), HasSubstr("null source"));
  r = p.dequantize(HEARTH_DTYPE_NF4, out.data(), dst, 63);
  EXPECT_EQ(r.code(), HEARTH_ERR_INVALID_ARGUMENT);
}

// ------------------------------------------------------------------ GGUF storage

TEST(Nf4Gguf, OurReaderSizesNf4Tensors) {
  const auto layout = gguf_builtin_type_layout(HEARTH_DTYPE_NF4);
  ASSERT_TRUE(layout);
  EXPECT_EQ(layout->name, "NF4");
  EXPECT_EQ(layout->block_elems, 64u);
  EXPECT_EQ(layout->block_bytes, 36u);
  GgufWriter w;
  std::vector<std::byte> data(5 * 3 * 36, std::byte{0x11});
  w.add_tensor("blk.0.ffn_up.weight", HEARTH_DTYPE_NF4, {320, 3}, data);
  const auto f = GgufFile::parse(w.to_bytes(), "nf4.gguf");
  ASSERT_TRUE(f.tensor("blk.0.ffn_up.weight"));
  EXPECT_EQ(f.tensor("blk.0.ffn_up.weight")->nbytes, data.size());
  EXPECT_EQ(f.tensor("blk.0.ffn_up.weight")->type, HEARTH_DTYPE_NF4);
}

// ------------------------------------------------------------------ cpu kernels

std::vector<uint8_t> random_nf4_rows(std::mt19937& rng, int64_t n_in, int64_t n_out) {
  std::vector<uint8_t> bytes(static_cast<size_t>(n_in / 64 * 36 * n_out));
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.01f, 2.0f);
  for (size_t b = 0; b < bytes.size() / 36; ++b) {
    const float d = scale(rng);
    std::memcpy(&bytes[b * 36], &d, 4);
    for (int j = 0; j < 32; ++j)
      bytes[b * 36 + 4 + static_cast<size_t>(j)] = static_cast<uint8_t>(byte(rng));
  }
  return bytes;
}

std::vector<float> random_activations(std::mt19937& rng, size_t n) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = u(rng);
  return x;
}

// |got - want| bounded by float rounding of a length-n sum: n * 2^-23 * sum |terms| (generous).
void expect_dot_close(double got, double want, double abs_sum, int64_t n, const std::string& what) {
  EXPECT_LE(std::fabs(got - want), static_cast<double>(n) * 1.2e-7 * abs_sum + 1e-30) << what;
}

TEST(Nf4Kernels, RowExpansionIsBitExact) {
  std::mt19937 rng(11);
  for (int64_t n : {64, 192, 448, 1088}) {
    const auto row = random_nf4_rows(rng, n, 1);
    std::vector<float> want(static_cast<size_t>(n)), scalar(want.size()), simd(want.size());
    nf4::dequantize_blocks(reinterpret_cast<const std::byte*>(row.data()), want.data(), n);
    backend_cpu::dequantize_row_nf4(row.data(), scalar.data(), n);
    backend_cpu::nf4_dequantize_row(row.data(), simd.data(), n);
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(bits(scalar[i]), bits(want[i])) << n << " " << i;
      ASSERT_EQ(bits(simd[i]), bits(want[i])) << n << " " << i;
    }
    // Each SIMD width this CPU runs, whichever the dispatcher picked above.
    std::vector<float> wide(want.size());
    if (backend_cpu::cpu_has_avx2()) {
      backend_cpu::dequantize_row_nf4_avx2(row.data(), wide.data(), n);
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_EQ(bits(wide[i]), bits(want[i])) << "avx2 " << n << " " << i;
    }
    if (backend_cpu::cpu_has_avx512_vnni()) {
      backend_cpu::dequantize_row_nf4_avx512(row.data(), wide.data(), n);
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_EQ(bits(wide[i]), bits(want[i])) << "avx512 " << n << " " << i;
    }
  }
}

TEST(Nf4Kernels, DotProductsMatchTheReference) {
  std::mt19937 rng(13);
  if (!backend_cpu::cpu_has_avx2())
    GTEST_SKIP() << "no AVX2 on this CPU; the scalar kernel is checked elsewhere";
  for (int64_t n : {64, 128, 192, 448, 1088, 2048, 4160}) {  // odd and even block counts
    const auto row = random_nf4_rows(rng, n, 1);
    const auto x = random_activations(rng, static_cast<size_t>(n));
    std::vector<float> w(static_cast<size_t>(n));
    nf4::dequantize_blocks(reinterpret_cast<const std::byte*>(row.data()), w.data(), n);
    double want = 0, abs_sum = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      want += static_cast<double>(w[i]) * x[i];
      abs_sum += std::fabs(static_cast<double>(w[i]) * x[i]);
    }
    expect_dot_close(backend_cpu::dot_nf4_f32(n, row.data(), x.data()), want, abs_sum, n, "scalar");
    expect_dot_close(backend_cpu::dot_nf4_f32_avx2(n, row.data(), x.data()), want, abs_sum, n,
                     "avx2");
    if (backend_cpu::cpu_has_avx512_vnni()) {
      expect_dot_close(backend_cpu::dot_nf4_f32_avx512(n, row.data(), x.data()), want, abs_sum, n,
                       "avx512");
      std::vector<float> xp(static_cast<size_t>(n));
      backend_cpu::nf4_pair_activations(x.data(), n, xp.data());
      expect_dot_close(backend_cpu::dot_nf4_pairs_avx512(n, row.data(), xp.data(), x.data()), want,
                       abs_sum, n, "avx512 pairs");
    }
  }
}

TEST(Nf4Kernels, ScalarDotMatchesTheReference) {
  std::mt19937 rng(17);
  const int64_t n = 448;
  const auto row = random_nf4_rows(rng, n, 1);
  const auto x = random_activations(rng, static_cast<size_t>(n));
  std::vector<float> w(static_cast<size_t>(n));
  nf4::dequantize_blocks(reinterpret_cast<const std::byte*>(row.data()), w.data(), n);
  double want = 0, abs_sum = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    want += static_cast<double>(w[i]) * x[i];
    abs_sum += std::fabs(static_cast<double>(w[i]) * x[i]);
  }
  expect_dot_close(backend_cpu::nf4_dot(n, row.data(), x.data(), /*simd=*/false), want, abs_sum, n,
                   "scalar");
}

// MATMUL and EMBEDDING through the real cpu backend plugin (threads 2, so rows are split).
class Nf4Backend : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string skip;
    device_ = conformance::DeviceUnderTest::open("cpu", {{"threads", "2"}}, skip);
    if (!device_) GTEST_SKIP() << skip;
  }
  std::unique_ptr<conformance::DeviceUnderTest> device_;
};

// Runs MATMUL of a random NF4 weight [n_in, n_out] by random activations on `device` and checks
// every output against a double-precision product of the reference dequantization: within
// rel_tol * sum |w x|, or within float rounding of a length-n_in sum where rel_tol is 0.
void expect_matmul_matches_reference(const conformance::DeviceUnderTest& device, std::mt19937& rng,
                                     int64_t n_in, int64_t n_out, int64_t n_tok, double rel_tol) {
  using conformance::HostTensor;
  const int64_t row_bytes = n_in / 64 * 36;
  HostTensor w = HostTensor::raw(HEARTH_DTYPE_NF4, {n_in, n_out, 1, 1}, 2, row_bytes);
  const auto rows = random_nf4_rows(rng, n_in, n_out);
  std::memcpy(w.bytes.data(), rows.data(), rows.size());
  const auto xs = random_activations(rng, static_cast<size_t>(n_in * n_tok));
  auto dw = device.upload(w);
  auto dx = device.upload(HostTensor::f32({n_in, n_tok, 1, 1}, 2, xs));
  auto dy = device.upload(HostTensor::output({n_out, n_tok, 1, 1}, 2));
  const auto op =
      conformance::make_op(HEARTH_OP_MATMUL, dy.descriptor(), {dw.descriptor(), dx.descriptor()});
  ASSERT_TRUE(device.supports(op).ok()) << device.supports(op).message();
  auto status = device.run(op);
  ASSERT_TRUE(status.ok()) << status.message();
  device.download(dy);
  const auto y = dy.host.dense_f32();
  std::vector<float> wf(static_cast<size_t>(n_in));
  for (int64_t r = 0; r < n_out; ++r) {
    nf4::dequantize_blocks(reinterpret_cast<const std::byte*>(rows.data()) + r * row_bytes,
                           wf.data(), n_in);
    for (int64_t t = 0; t < n_tok; ++t) {
      double want = 0, abs_sum = 0;
      for (int64_t i = 0; i < n_in; ++i) {
        const double p =
            static_cast<double>(wf[static_cast<size_t>(i)]) * xs[static_cast<size_t>(t * n_in + i)];
        want += p;
        abs_sum += std::fabs(p);
      }
      const std::string what = "n_in " + std::to_string(n_in) + " n_out " + std::to_string(n_out) +
                               " n_tok " + std::to_string(n_tok) + " row " + std::to_string(r) +
                               " token " + std::to_string(t);
      const double got = y[static_cast<size_t>(t * n_out + r)];
      if (rel_tol > 0)
        EXPECT_LE(std::fabs(got - want), rel_tol * abs_sum + 1e-30) << what;
      else
        expect_dot_close(got, want, abs_sum, n_in, what);
    }
  }
}

TEST_F(Nf4Backend, MatmulMatchesTheReferenceAtOddSizes) {
  std::mt19937 rng(19);
  for (int64_t n_in : {64, 448, 1088})
    for (int64_t n_out : {1, 7, 13})
      for (int64_t n_tok : {1, 3, 17, 70})  // 70: rows expanded for oneDNN, where built
        expect_matmul_matches_reference(*device_, rng, n_in, n_out, n_tok, 0.0);
}

// The GPU backends' NF4 MATMUL paths on the same reference. Sizes reach each CUDA kernel: rows of
// 1088 columns (not whole 256-column groups: the portable GEMV), 4096 (sm_90: the TMA kernel's
// short rows, two CTAs an SM) and 4352 (its long rows, `kLongRows` for one token), 1, 3 and 8
// tokens, and 40 tokens (the cuBLAS prompt route). The sm_90 kernels round code values and x to
// F16 (plugins/backend-cuda/nf4_gemv_tma.cu), hence 1e-4 of sum |w x|, the bound tools/nf4_bench
// checks. Skipped where the plugin or a device is missing.
class Nf4OnGpuBackend : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string skip;
    device_ = conformance::DeviceUnderTest::open(GetParam(), {}, skip);
    if (!device_) GTEST_SKIP() << skip;
  }
  std::unique_ptr<conformance::DeviceUnderTest> device_;
};

TEST_P(Nf4OnGpuBackend, MatmulMatchesTheReferenceOnEveryKernelPath) {
  std::mt19937 rng(29);
  for (int64_t n_in : {1088, 4096, 4352})
    for (int64_t n_tok : {1, 3, 8, 40})
      expect_matmul_matches_reference(*device_, rng, n_in, /*n_out=*/37, n_tok, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Backends, Nf4OnGpuBackend, ::testing::Values("cuda", "hip"));

TEST_F(Nf4Backend, EmbeddingRowsAreBitExact) {
  using conformance::HostTensor;
  std::mt19937 rng(23);
  const int64_t n_embd = 192, n_vocab = 5;
  HostTensor table =
      HostTensor::raw(HEARTH_DTYPE_NF4, {n_embd, n_vocab, 1, 1}, 2, n_embd / 64 * 36);
  const auto rows = random_nf4_rows(rng, n_embd, n_vocab);
  std::memcpy(table.bytes.data(), rows.data(), rows.size());
  const std::vector<int32_t> ids = {4, 0, 2};
  auto dt = device_->upload(table);
  auto di = device_->upload(HostTensor::i32(ids));
  auto dy = device_->upload(HostTensor::output({n_embd, 3, 1, 1}, 2));
  auto status = device_->run(conformance::make_op(HEARTH_OP_EMBEDDING, dy.descriptor(),
                                                  {dt.descriptor(), di.descriptor()}));
  ASSERT_TRUE(status.ok()) << status.message();
  device_->download(dy);
  const auto y = dy.host.dense_f32();
  std::vector<float> want(static_cast<size_t>(n_embd));
  for (size_t k = 0; k < ids.size(); ++k) {
    nf4::dequantize_blocks(
        reinterpret_cast<const std::byte*>(rows.data()) + ids[k] * (n_embd / 64 * 36), want.data(),
        n_embd);
    for (int64_t i = 0; i < n_embd; ++i)
      ASSERT_EQ(bits(y[k * n_embd + static_cast<size_t>(i)]), bits(want[static_cast<size_t>(i)]));
  }
}

TEST_F(Nf4Backend, RefusesRowsOfPartialBlocks) {
  using conformance::HostTensor;
  HostTensor w = HostTensor::raw(HEARTH_DTYPE_NF4, {100, 2, 1, 1}, 2, 72);
  auto dw = device_->upload(w);
  auto dx = device_->upload(HostTensor::f32({100, 1, 1, 1}, 2, std::vector<float>(100, 1.0f)));
  auto dy = device_->upload(HostTensor::output({2, 1, 1, 1}, 2));
  const auto r = device_->supports(
      conformance::make_op(HEARTH_OP_MATMUL, dy.descriptor(), {dw.descriptor(), dx.descriptor()}));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.message(), HasSubstr("multiple of the block size 64"));
}

}  // namespace
}  // namespace hearth::test
