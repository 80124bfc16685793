// CS256 (plugins/format-cs256, plugins/backend-cpu/cs256_*, the GGUF variable-size rule):
// - encode -> dequantize equals the pruned dense matrix bit for bit (f16, bf16, int8);
// - the pruner keeps whole groups of vec per tile, the top-scored weights of each tile, at most
//   248 per tile, and meets the sparsity target; Wanda's importance changes what is kept;
// - adversarial shapes and patterns (empty rows, full tiles -> wide increments, n not a multiple
//   of 256, n < 256, padding) encode to blobs the validator accepts, and every corruption of a
//   valid blob is refused with a message naming it;
// - the scalar, AVX2 and AVX-512 kernels and the cpu backend's MATMUL equal a double-precision
//   reference within F32 rounding, and the one-token kernels on F16 activations within F16's;
// - GGUF files carry CS256 tensors (sized from their header) and refuse broken headers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <hearth/gguf.hpp>
#include <hearth/sdk/half.hpp>
#include <hearth/sdk/plugin.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "../support/plugin_under_test.hpp"
#include "cs256_blob.hpp"
#include "cs256_codec.hpp"
#include "cs256_kernels.hpp"
#include "cs256_matmul.hpp"
#include "quant_kernels.hpp"

namespace hearth::test {
namespace {

using ::testing::HasSubstr;
namespace cs = hearth::format_cs256;
namespace cpu = hearth::backend_cpu;

std::vector<float> random_matrix(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (auto& v : w) v = dist(rng);
  return w;
}

cs::EncodeOptions options(std::optional<double> sparsity, hearth_dtype values = HEARTH_DTYPE_F16,
                          int vec = 8) {
  cs::EncodeOptions o;
  o.sparsity = sparsity;
  o.values = values;
  o.vec = vec;
  return o;
}

std::vector<float> dequantized(const std::vector<std::byte>& blob, int64_t rows, int64_t cols) {
  std::vector<float> out(static_cast<size_t>(rows * cols), -1.0f);
  cs::validate(blob.data(), blob.size(), rows, cols);
  cs::dequantize(blob.data(), out.data(), rows * cols);
  return out;
}

float round_to(hearth_dtype values, float v) {
  return values == HEARTH_DTYPE_F16 ? sdk::fp16_to_fp32(sdk::fp32_to_fp16(v))
                                    : sdk::bf16_to_fp32(sdk::fp32_to_bf16(v));
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

cs::BlobView view(const std::vector<std::byte>& blob) {
  cs::BlobView b;
  EXPECT_TRUE(cs::read_blob(blob.data(), b));
  return b;
}

// ------------------------------------------------------------------ encode / dequantize

struct Shape {
  int64_t rows, cols;
};

class EncodeShapes : public ::testing::TestWithParam<Shape> {};

TEST_P(EncodeShapes, DequantizeEqualsThePrunedDenseMatrixExactly) {
  const auto [rows, cols] = GetParam();
  const auto w = random_matrix(rows, cols, 7);
  for (hearth_dtype values : {HEARTH_DTYPE_F16, HEARTH_DTYPE_BF16}) {
    for (double sparsity : {0.5, 0.66, 0.75}) {
      const auto kept = cs::select_kept(w.data(), rows, cols, nullptr, sparsity, 8);
      const auto blob = cs::encode(w.data(), rows, cols, nullptr, options(sparsity, values));
      const auto d = dequantized(blob, rows, cols);
      for (size_t k = 0; k < w.size(); ++k) {
        const float expected = kept[k] ? round_to(values, w[k]) : 0.0f;
        ASSERT_EQ(std::memcmp(&d[k], &expected, 4), 0)
            << "element " << k << " sparsity " << sparsity << ": " << d[k] << " vs " << expected;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, EncodeShapes,
                         ::testing::Values(Shape{37, 600}, Shape{64, 64}, Shape{13, 172},
                                           Shape{5, 256}, Shape{3, 513}, Shape{1, 1000}));

TEST(Cs256Prune, KeepsWholeGroupsOfTheTopScoredWeightsPerTileAndMeetsTheTarget) {
  const int64_t rows = 48, cols = 700;
  const auto w = random_matrix(rows, cols, 11);
  for (int vec : {4, 8, 16}) {
    for (double sparsity : {0.5, 0.66, 0.75}) {
      const auto kept = cs::select_kept(w.data(), rows, cols, nullptr, sparsity, vec);
      int64_t total = 0;
      for (int64_t t = 0; t < cs::blocks_per_row(cols); ++t) {
        const int64_t width = cs::tile_width(cols, t);
        int64_t in_block = 0;
        for (int64_t i = 0; i < rows; ++i) {
          float min_kept = INFINITY, max_pruned = 0;
          int64_t count = 0;
          for (int64_t c = t * 256; c < t * 256 + width; ++c) {
            const float a = std::fabs(w[i * cols + c]);
            if (kept[i * cols + c]) {
              ++count;
              min_kept = std::min(min_kept, a);
            } else {
              max_pruned = std::max(max_pruned, a);
            }
          }
          ASSERT_EQ(count % vec, 0) << "row " << i << " tile " << t;
          ASSERT_LE(count, 248);
          if (count > 0) {
            ASSERT_GE(min_kept, max_pruned) << "row " << i << " tile " << t;
          }
          in_block += count;
        }
        // Whole groups fill the block's budget exactly.
        const auto budget =
            static_cast<int64_t>(std::floor(rows * width * (1 - sparsity))) / vec * vec;
        EXPECT_EQ(in_block, budget) << "tile column " << t << " vec " << vec;
        total += in_block;
      }
      const double achieved = 1.0 - double(total) / double(rows * cols);
      EXPECT_NEAR(achieved, sparsity, 0.01);
    }
  }
}

TEST(Cs256Prune, WandaImportanceDecidesBetweenEqualMagnitudes) {
  // Every weight has magnitude 1: only the importance can decide. The pruner must keep the
  // columns with the largest activation norms.
  const int64_t rows = 4, cols = 64;
  std::vector<float> w(rows * cols, 1.0f);
  std::vector<float> importance(cols);
  for (int64_t c = 0; c < cols; ++c) importance[c] = static_cast<float>((c * 37) % 64);
  const auto kept = cs::select_kept(w.data(), rows, cols, importance.data(), 0.75, 8);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t c = 0; c < cols; ++c)
      EXPECT_EQ(kept[i * cols + c], importance[c] >= 48 ? 1 : 0) << i << "," << c;
  const auto magnitude = cs::select_kept(w.data(), rows, cols, nullptr, 0.75, 8);
  EXPECT_NE(kept, magnitude);
}

TEST(Cs256Encode, Int8ValuesAreRoundedToThePerRowScale) {
  const int64_t rows = 9, cols = 300;
  const auto w = random_matrix(rows, cols, 3);
  const auto kept = cs::select_kept(w.data(), rows, cols, nullptr, 0.66, 8);
  const auto blob = cs::encode(w.data(), rows, cols, nullptr, options(0.66, HEARTH_DTYPE_I8));
  const auto d = dequantized(blob, rows, cols);
  for (int64_t i = 0; i < rows; ++i) {
    float max_abs = 0;
    for (int64_t c = 0; c < cols; ++c)
      if (kept[i * cols + c]) max_abs = std::max(max_abs, std::fabs(w[i * cols + c]));
    const float scale = max_abs / 127.0f;
    for (int64_t c = 0; c < cols; ++c) {
      const size_t k = static_cast<size_t>(i * cols + c);
      const float expected = kept[k] ? std::nearbyint(w[k] / scale) * scale : 0.0f;
      ASSERT_EQ(d[k], expected) << i << "," << c;
      ASSERT_LE(std::fabs(d[k] - (kept[k] ? w[k] : 0.0f)), scale / 2 * 1.0001f);
    }
  }
}

TEST(Cs256Encode, AlreadyPrunedMatricesKeepTheirZerosAndPadToVec) {
  // Row 0 empty, row 1 has 5 non-zeros in tile 0 (padded to 8), row 2 is fully dense (256 per
  // tile: wide increments), n = 300 leaves a 44-column last tile.
  const int64_t rows = 3, cols = 300;
  std::vector<float> w(rows * cols, 0.0f);
  for (int c : {3, 17, 100, 101, 255}) w[1 * cols + c] = 0.5f + c;
  w[1 * cols + 299] = -2.0f;
  for (int64_t c = 0; c < cols; ++c) w[2 * cols + c] = 1.0f + float(c) / 1024;
  w[2 * cols + 7] = -0.0f;  // -0 is a zero: tile 0 of row 2 holds 255 -> padded to 256
  const auto blob = cs::encode(w.data(), rows, cols, nullptr, options(std::nullopt));
  const auto b = view(blob);
  EXPECT_TRUE(b.wide());
  EXPECT_EQ(b.row_pointer(1), 0u);
  EXPECT_EQ(b.increment(1, 0), 8u);
  EXPECT_EQ(b.increment(1, 1), 8u);
  EXPECT_EQ(b.increment(2, 0), 256u);
  EXPECT_EQ(b.increment(2, 1), 48u);
  EXPECT_EQ(b.increment(2, 2), 0u);  // padding to blk_offset = 4
  const auto d = dequantized(blob, rows, cols);
  for (size_t k = 0; k < w.size(); ++k)
    ASSERT_EQ(d[k], w[k] == 0 ? 0.0f : round_to(HEARTH_DTYPE_F16, w[k])) << k;
}

TEST(Cs256Encode, SparseMatricesStayNarrowAndEmptyMatricesWork) {
  const auto w = random_matrix(8, 256, 5);
  EXPECT_FALSE(view(cs::encode(w.data(), 8, 256, nullptr, options(0.0))).wide());
  const std::vector<float> zeros(4 * 10, 0.0f);
  const auto blob = cs::encode(zeros.data(), 4, 10, nullptr, options(std::nullopt));
  EXPECT_EQ(view(blob).header.nnz, 0u);
  EXPECT_EQ(dequantized(blob, 4, 10), zeros);
  const auto none = cs::encode(nullptr, 0, 0, nullptr, options(0.5));
  EXPECT_NO_THROW(cs::validate(none.data(), none.size(), 0, 0));
}

TEST(Cs256Encode, NearlyDensePartialTilesPadByRepeatingTheLastColumn) {
  // 5 non-zeros in a 6-column tile: one unused column, then two repeats of column 5, all zero.
  std::vector<float> w = {0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
  const auto blob = cs::encode(w.data(), 1, 6, nullptr, options(std::nullopt));
  const auto b = view(blob);
  ASSERT_EQ(b.header.nnz, 8u);
  const std::vector<int> expected = {0, 1, 2, 3, 4, 5, 5, 5};
  for (size_t k = 0; k < 8; ++k) EXPECT_EQ(b.index(k), expected[k]);
  EXPECT_EQ(dequantized(blob, 1, 6), w);
}

TEST(Cs256Encode, RefusesWhatItCannotStore) {
  std::vector<float> w(6, 1.0f);
  w[0] = NAN;
  EXPECT_THAT(message_of([&] { cs::encode(w.data(), 1, 6, nullptr, options(0.5)); }),
              HasSubstr("not finite"));
  w[0] = 1e6f;
  EXPECT_THAT(message_of([&] {
                cs::encode(w.data(), 1, 6, nullptr, options(std::nullopt, HEARTH_DTYPE_F16, 4));
              }),
              HasSubstr("beyond F16's range"));
}

// ------------------------------------------------------------------ validator

// Copies blob, lets mutate change it, and returns the validator's complaint.
std::string complaint(
    std::vector<std::byte> blob, int64_t rows, int64_t cols,
    const std::function<void(std::vector<std::byte>&, const cs::BlobView&)>& mutate,
    size_t bytes = SIZE_MAX) {
  const auto b = view(blob);
  mutate(blob, b);
  return message_of([&] { cs::validate(blob.data(), std::min(bytes, blob.size()), rows, cols); });
}

TEST(Cs256Validate, NamesEveryBrokenInvariant) {
  const int64_t rows = 6, cols = 300;
  const auto w = random_matrix(rows, cols, 9);
  const auto blob = cs::encode(w.data(), rows, cols, nullptr, options(0.66));
  ASSERT_NO_THROW(cs::validate(blob.data(), blob.size(), rows, cols));
  auto at = [](std::vector<std::byte>& v, uint64_t offset) -> std::byte& { return v[offset]; };
  auto none = [](std::vector<std::byte>&, const cs::BlobView&) {};
  EXPECT_THAT(complaint(blob, rows, cols, none, 40), HasSubstr("less than the 64-byte header"));
  EXPECT_THAT(complaint(blob, rows, cols, none, blob.size() - 64), HasSubstr("needs"));
  EXPECT_THAT(complaint(blob, rows + 1, cols, none), HasSubstr("6 rows of 300 columns"));
  EXPECT_THAT(complaint(blob, rows, cols, [&](auto& v, auto&) { at(v, 0) = std::byte{0}; }),
              HasSubstr("magic"));
  EXPECT_THAT(complaint(blob, rows, cols,
                        [&](auto& v, const cs::BlobView& b) {
                          at(v, b.layout.increments) =
                              std::byte{static_cast<unsigned char>(b.increment(0, 0) + 4)};
                        }),
              HasSubstr("not a multiple of vec"));
  EXPECT_THAT(complaint(blob, rows, cols,
                        [&](auto& v, const cs::BlobView& b) {
                          at(v, b.layout.increments + 3) = std::byte{8};
                        }),
              HasSubstr("is padding but its count is 8"));
  EXPECT_THAT(complaint(blob, rows, cols,
                        [&](auto& v, const cs::BlobView& b) {
                          // The last entry of row 0 lies in the 44-column tile 1.
                          at(v, b.layout.indices + b.row_pointer(1) - 1) = std::byte{200};
                        }),
              HasSubstr("past the tile's 44 columns"));
  EXPECT_THAT(complaint(blob, rows, cols,
                        [&](auto& v, const cs::BlobView& b) {
                          at(v, b.layout.indices + 1) = at(v, b.layout.indices);
                        }),
              HasSubstr("repeats column"));
  EXPECT_THAT(complaint(blob, rows, cols,
                        [&](auto& v, const cs::BlobView& b) {
                          const uint32_t p = b.row_pointer(1) + 8;
                          std::memcpy(&at(v, b.layout.row_pointers + 4), &p, 4);
                        }),
              HasSubstr("RowPointers"));
  EXPECT_THAT(complaint(blob, rows, cols,
                        [&](auto& v, const cs::BlobView& b) {
                          const uint16_t inf = 0x7c00;
                          std::memcpy(&at(v, b.layout.values + 2), &inf, 2);
                        }),
              HasSubstr("not finite"));
  EXPECT_THAT(complaint(blob, rows, cols, [&](auto& v, auto&) { at(v, 48) = std::byte{1}; }),
              HasSubstr("reserved"));
}

TEST(Cs256Validate, RandomCorruptionsNeverCrashTheValidator) {
  const auto w = random_matrix(5, 520, 2);
  const auto blob = cs::encode(w.data(), 5, 520, nullptr, options(0.5));
  std::mt19937 rng(1);
  for (int trial = 0; trial < 2000; ++trial) {
    auto copy = blob;
    for (int k = 0; k < 3; ++k) copy[rng() % copy.size()] = static_cast<std::byte>(rng() & 0xff);
    try {
      cs::validate(copy.data(), copy.size(), 5, 520);
      std::vector<float> d(5 * 520);
      cs::dequantize(copy.data(), d.data(), 5 * 520);  // only after validate passed
    } catch (const sdk::PluginError& e) {
      EXPECT_EQ(e.code(), HEARTH_ERR_INVALID_ARGUMENT);
    }
  }
}

// ------------------------------------------------------------------ kernels

double reference_dot(const std::vector<float>& dense, int64_t row, int64_t cols, const float* x,
                     double* magnitude) {
  double s = 0, m = 0;
  for (int64_t c = 0; c < cols; ++c) {
    s += double(dense[row * cols + c]) * x[c];
    m += std::fabs(double(dense[row * cols + c]) * x[c]);
  }
  *magnitude = m;
  return s;
}

// x rounded to F16 by both conversions (the same bits), padded to whole tiles.
std::vector<uint16_t> halved(const float* x, int64_t cols, int64_t padded, float* unscale) {
  std::vector<uint16_t> scalar(static_cast<size_t>(padded), 0), simd(scalar);
  const auto s = cpu::cs256_halve_activations_scalar(x, cols, scalar.data());
  const auto v = cpu::cs256_halve_activations(x, cols, simd.data());
  EXPECT_TRUE(s && v);
  if (!s || !v) return scalar;
  EXPECT_EQ(*s, *v);
  EXPECT_EQ(scalar, simd);
  *unscale = *s;
  return scalar;
}

// The kernels on F16 activations (scalar and, where the CPU has it, AVX-512), for 1..tokens
// tokens per call (x: tokens rows of cols floats), against the double-precision product with the
// rounded activations (as tight as the F32 kernels), and against the unrounded ones within the
// rounding: at most 2^-11 of each |w x|.
void expect_half_kernels_equal_the_dense_reference(const cpu::Cs256Matrix& m,
                                                   const std::vector<float>& dense, int64_t rows,
                                                   int64_t cols, const float* x, int64_t tokens,
                                                   const std::string& what) {
  std::vector<std::vector<uint16_t>> xh;
  std::vector<float> unscale(static_cast<size_t>(tokens));
  std::vector<std::vector<float>> rounded;
  const uint16_t* xs[cpu::kCs256TokenGroup];
  for (int64_t j = 0; j < tokens; ++j) {
    xh.push_back(halved(x + j * cols, cols, m.blk_per_row * 256, &unscale[j]));
    rounded.emplace_back(static_cast<size_t>(cols));
    for (int64_t c = 0; c < cols; ++c) rounded[j][c] = sdk::fp16_to_fp32(xh[j][c]) * unscale[j];
    xs[j] = xh[j].data();
  }
  for (int64_t n_tok = 1; n_tok <= tokens; ++n_tok)
    for (int64_t r = 0; r < rows; ++r) {
      float scalar[cpu::kCs256TokenGroup], wide[cpu::kCs256TokenGroup];
      cpu::cs256_row_dot_halves_scalar(m, r, xs, unscale.data(), n_tok, scalar);
      if (cpu::cpu_has_avx512_vnni())
        cpu::cs256_row_dot_halves_avx512(m, r, xs, unscale.data(), n_tok, wide);
      for (int64_t j = 0; j < n_tok; ++j) {
        double magnitude = 0, exact_magnitude = 0;
        const double ref = reference_dot(dense, r, cols, rounded[j].data(), &magnitude);
        const double exact = reference_dot(dense, r, cols, x + j * cols, &exact_magnitude);
        const double tol = 1e-6 * magnitude + 1e-30;
        const std::string where = what + " row " + std::to_string(r) + " token " +
                                  std::to_string(j) + " of " + std::to_string(n_tok);
        ASSERT_NEAR(scalar[j], ref, tol) << "F16 x, scalar, " << where;
        ASSERT_NEAR(scalar[j], exact, std::ldexp(exact_magnitude, -11) + tol) << where;
        if (cpu::cpu_has_avx512_vnni()) {
          ASSERT_NEAR(wide[j], ref, tol) << "F16 x, avx512, " << where;
        }
      }
    }
}

// Every kernel this CPU runs (scalar, AVX2, AVX-512) against the double-precision product of the
// blob's dense reconstruction, for 1..8 tokens per call.
void expect_kernels_equal_the_dense_reference(const std::vector<std::byte>& blob,
                                              const std::vector<float>& dense, int64_t rows,
                                              int64_t cols, const std::string& what) {
  cpu::Cs256Matrix m;
  ASSERT_TRUE(cpu::cs256_matrix(blob.data(), m));
  const auto xs_data = random_matrix(cpu::kCs256TokenGroup, cols, 99);
  const float* xs[cpu::kCs256TokenGroup];
  for (int64_t j = 0; j < cpu::kCs256TokenGroup; ++j) xs[j] = xs_data.data() + j * cols;
  for (int64_t n_tok = 1; n_tok <= cpu::kCs256TokenGroup; ++n_tok) {
    for (int64_t r = 0; r < rows; ++r) {
      float scalar[cpu::kCs256TokenGroup], simd[cpu::kCs256TokenGroup], wide[cpu::kCs256TokenGroup];
      cpu::cs256_row_dot_scalar(m, r, xs, n_tok, scalar);
      if (cpu::cpu_has_avx2()) cpu::cs256_row_dot_avx2(m, r, xs, n_tok, simd);
      if (cpu::cpu_has_avx512_vnni()) cpu::cs256_row_dot_avx512(m, r, xs, n_tok, wide);
      for (int64_t j = 0; j < n_tok; ++j) {
        double magnitude = 0;
        const double ref = reference_dot(dense, r, cols, xs[j], &magnitude);
        const double tol = 1e-6 * magnitude + 1e-6;
        ASSERT_NEAR(scalar[j], ref, tol) << what << " row " << r << " token " << j;
        if (cpu::cpu_has_avx2()) {
          ASSERT_NEAR(simd[j], ref, tol) << what << " avx2 row " << r << " token " << j;
        }
        if (cpu::cpu_has_avx512_vnni()) {
          ASSERT_NEAR(wide[j], ref, tol) << what << " avx512 row " << r << " token " << j;
        }
      }
    }
  }
  expect_half_kernels_equal_the_dense_reference(m, dense, rows, cols, xs_data.data(),
                                                cpu::kCs256TokenGroup, what);
}

struct KernelCase {
  int64_t rows, cols;
  hearth_dtype values;
  int vec;
  double sparsity;
};

std::string describe(const KernelCase& k) {
  return std::to_string(k.rows) + "x" + std::to_string(k.cols) + " vec " + std::to_string(k.vec) +
         " sparsity " + std::to_string(k.sparsity);
}

// Odd widths (partial last tiles), every value type and vec, full tiles (sparsity 0, wide
// counts), and wide rows at 75 % where 16 consecutive entries often span more than 128 columns.
const KernelCase kKernelCases[] = {
    {50, 600, HEARTH_DTYPE_F16, 8, 0.66},  {13, 64, HEARTH_DTYPE_F16, 4, 0.5},
    {9, 300, HEARTH_DTYPE_BF16, 16, 0.75}, {17, 513, HEARTH_DTYPE_I8, 8, 0.66},
    {7, 172, HEARTH_DTYPE_I8, 4, 0.5},     {4, 256, HEARTH_DTYPE_F16, 8, 0.0},
    {6, 2048, HEARTH_DTYPE_F16, 8, 0.75},  {5, 1100, HEARTH_DTYPE_BF16, 8, 0.5}};

TEST(Cs256Kernels, EveryKernelEqualsTheDenseReference) {
  for (const KernelCase& k : kKernelCases) {
    const auto w = random_matrix(k.rows, k.cols, 21);
    const auto blob =
        cs::encode(w.data(), k.rows, k.cols, nullptr, options(k.sparsity, k.values, k.vec));
    expect_kernels_equal_the_dense_reference(blob, dequantized(blob, k.rows, k.cols), k.rows,
                                             k.cols, describe(k));
  }
}

// Prompts multiply rows expanded to dense floats: exactly the format's own dequantization.
TEST(Cs256Kernels, ExpandedRowsEqualTheFormatsDequantization) {
  for (const KernelCase& k : kKernelCases) {
    const auto w = random_matrix(k.rows, k.cols, 31);
    const auto blob =
        cs::encode(w.data(), k.rows, k.cols, nullptr, options(k.sparsity, k.values, k.vec));
    const auto dense = dequantized(blob, k.rows, k.cols);
    cpu::Cs256Matrix m;
    ASSERT_TRUE(cpu::cs256_matrix(blob.data(), m));
    std::vector<float> row(static_cast<size_t>(m.blk_per_row * 256), NAN);
    for (int64_t r = 0; r < k.rows; ++r) {
      cpu::cs256_expand_row(m, r, row.data());
      for (int64_t c = 0; c < k.cols; ++c)
        ASSERT_EQ(row[c], dense[r * k.cols + c]) << describe(k) << " row " << r << " col " << c;
      for (int64_t c = k.cols; c < m.blk_per_row * 256; ++c) ASSERT_EQ(row[c], 0.0f);
    }
  }
}

// The F16 activations span the range the conversion keeps exact to 2^-11: max |x| 2^e lands in
// [2^14, 2^15) whatever the magnitude; infinities and NaN are refused (the F32 kernels take
// those); zeros stay zeros. Sparsity 0.9 and 0.8 put chunks past three windows (the four-group
// path), 0.5 keeps them within two.
TEST(Cs256Kernels, HalvedActivationsAtAnyMagnitude) {
  const int64_t rows = 7, cols = 777;
  const auto x = random_matrix(1, cols, 5);
  for (const double sparsity : {0.5, 0.8, 0.9}) {
    const auto w = random_matrix(rows, cols, 6);
    const auto blob = cs::encode(w.data(), rows, cols, nullptr, options(sparsity));
    const auto dense = dequantized(blob, rows, cols);
    cpu::Cs256Matrix m;
    ASSERT_TRUE(cpu::cs256_matrix(blob.data(), m));
    for (const float magnitude : {1e-30f, 1e-6f, 1.0f, 1e6f, 1e30f}) {
      std::vector<float> scaled(x);
      for (auto& v : scaled) v *= magnitude;
      float unscale = 0;
      const auto xh = halved(scaled.data(), cols, cols, &unscale);
      float max = 0;
      for (const uint16_t h : xh) max = std::max(max, std::fabs(sdk::fp16_to_fp32(h)));
      EXPECT_GE(max, 16384.0f) << magnitude;
      EXPECT_LT(max, 32768.0f) << magnitude;
      expect_half_kernels_equal_the_dense_reference(
          m, dense, rows, cols, scaled.data(), 1,
          "sparsity " + std::to_string(sparsity) + " |x| ~" + std::to_string(magnitude));
    }
  }
  std::vector<float> zeros(cols, 0.0f);
  std::vector<uint16_t> xh(cols, 1);
  EXPECT_EQ(cpu::cs256_halve_activations(zeros.data(), cols, xh.data()), 1.0f);
  EXPECT_EQ(xh, std::vector<uint16_t>(cols, 0));
  for (const float bad : {INFINITY, -INFINITY, NAN}) {
    std::vector<float> with(x);
    with[cols - 1] = bad;
    EXPECT_FALSE(cpu::cs256_halve_activations(with.data(), cols, xh.data()));
    EXPECT_FALSE(cpu::cs256_halve_activations_scalar(with.data(), cols, xh.data()));
  }
}

// The spec leaves the order of a tile's entries free; Hearth's encoder writes them ascending, its
// validator refuses any other order, and the AVX-512 kernel reads a chunk faster when they are.
// The kernels themselves do not depend on it: reversed (unvalidated), they give the same sums.
TEST(Cs256Kernels, EntriesInAnyOrderWithinATile) {
  for (const KernelCase& k : kKernelCases) {
    const auto w = random_matrix(k.rows, k.cols, 23);
    auto blob = cs::encode(w.data(), k.rows, k.cols, nullptr, options(k.sparsity, k.values, k.vec));
    const auto dense = dequantized(blob, k.rows, k.cols);
    cpu::Cs256Matrix m;
    ASSERT_TRUE(cpu::cs256_matrix(blob.data(), m));
    const size_t value_bytes = k.values == HEARTH_DTYPE_I8 ? 1 : 2;
    for (int64_t r = 0; r < k.rows; ++r) {
      uint64_t begin = m.row_pointer(r);
      for (int64_t t = 0; t < m.blk_per_row; ++t) {
        const uint64_t end = begin + m.increment(r, t);
        for (uint64_t a = begin, b = end; a + 1 < b; ++a, --b) {
          std::swap(blob[m.layout.indices + a], blob[m.layout.indices + b - 1]);
          for (size_t byte = 0; byte < value_bytes; ++byte)
            std::swap(blob[m.layout.values + a * value_bytes + byte],
                      blob[m.layout.values + (b - 1) * value_bytes + byte]);
        }
        begin = end;
      }
    }
    expect_kernels_equal_the_dense_reference(blob, dense, k.rows, k.cols,
                                             "reversed " + describe(k));
  }
}

// ------------------------------------------------------------------ plugins through the C ABI

class Plugins : public ::testing::Test {
 protected:
  PluginUnderTest format_{plugin_file("format", "cs256")};
  PluginUnderTest backend_{plugin_file("backend", "cpu")};
  const hearth_format_api& fapi() const { return format_.api<hearth_format_api>(); }

  StatusResult encode(const std::vector<float>& w, int64_t rows, int64_t cols,
                      const std::vector<hearth_option>& opts, std::vector<std::byte>& out) {
    hearth_byte_sink sink{&out, [](void* c, uint64_t bytes) -> void* {
                            auto* v = static_cast<std::vector<std::byte>*>(c);
                            v->resize(bytes);
                            return v->data();
                          }};
    return take(fapi().encode(format_.instance(), HEARTH_DTYPE_CS256, w.data(), rows, cols, nullptr,
                              opts.data(), opts.size(), &sink));
  }

  // MATMUL of the blob (rows x cols) with n_tok columns of x into y.
  static hearth_op matmul(const std::vector<std::byte>& blob, std::vector<float>& x,
                          std::vector<float>& y, int64_t rows, int64_t cols, int64_t n_tok) {
    auto tensor = [](void* data, hearth_dtype dtype, int64_t ne0, int64_t ne1) {
      hearth_tensor t{};
      t.data = data;
      t.dtype = dtype;
      t.n_dims = 2;
      t.ne[0] = ne0;
      t.ne[1] = ne1;
      t.ne[2] = t.ne[3] = 1;
      t.nb[0] = dtype == HEARTH_DTYPE_F32 ? 4 : 0;
      t.nb[1] = t.nb[0] * ne0;
      t.nb[2] = t.nb[3] = t.nb[1] * ne1;
      return t;
    };
    hearth_op op{};
    op.struct_size = sizeof op;
    op.kind = HEARTH_OP_MATMUL;
    op.n_src = 2;
    op.src[0] = tensor(const_cast<std::byte*>(blob.data()), HEARTH_DTYPE_CS256, cols, rows);
    op.src[1] = tensor(x.data(), HEARTH_DTYPE_F32, cols, n_tok);
    op.dst = tensor(y.data(), HEARTH_DTYPE_F32, rows, n_tok);
    return op;
  }
  // The backend's MATMUL of a random 66 %-sparse blob against the double-precision reference.
  static void expect_matmul_equals_the_reference(const hearth_backend_api& api, void* device,
                                                 int64_t rows, int64_t cols, int64_t n_tok);
};

TEST_F(Plugins, FormatEncodesValidatesAndDequantizesThroughItsAbi) {
  ASSERT_GE(fapi().struct_size, offsetof(hearth_format_api, validate) + sizeof(void*));
  hearth_format_type type{};
  ASSERT_TRUE(take(fapi().type_info(format_.instance(), 0, &type)).ok());
  EXPECT_EQ(type.dtype, HEARTH_DTYPE_CS256);
  EXPECT_EQ(type.block_bytes, 0u);
  const auto w = random_matrix(20, 300, 4);
  std::vector<std::byte> blob;
  auto status = encode(w, 20, 300, {{"sparsity", "0.66"}, {"values", "int8"}, {"vec", "16"}}, blob);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_TRUE(take(fapi().validate(format_.instance(), HEARTH_DTYPE_CS256, blob.data(), blob.size(),
                                   20, 300))
                  .ok());
  std::vector<float> d(20 * 300);
  EXPECT_TRUE(take(fapi().dequantize(format_.instance(), HEARTH_DTYPE_CS256, blob.data(), d.data(),
                                     20 * 300))
                  .ok());
  EXPECT_EQ(d, dequantized(blob, 20, 300));
  EXPECT_THAT(take(fapi().validate(format_.instance(), HEARTH_DTYPE_CS256, blob.data(), blob.size(),
                                   21, 300))
                  .message(),
              HasSubstr("20 rows"));

  EXPECT_THAT(encode(w, 20, 300, {{"sparsity", "1.5"}}, blob).message(),
              HasSubstr("outside [0, 1)"));
  EXPECT_THAT(encode(w, 20, 300, {{"values", "fp8"}}, blob).message(),
              HasSubstr("not one of f16, bf16, int8"));
  EXPECT_THAT(encode(w, 20, 300, {{"vec", "6"}}, blob).message(), HasSubstr("not one of 4, 8, 16"));
  EXPECT_THAT(encode(w, 20, 300, {{"sparsty", "0.5"}}, blob).message(),
              HasSubstr("unknown option 'sparsty'"));
}

TEST_F(Plugins, CpuBackendMatmulEqualsTheReferenceForManyTokens) {
  const auto& api = backend_.api<hearth_backend_api>();
  void* device = nullptr;
  ASSERT_TRUE(take(api.open_device(backend_.instance(), 0, nullptr, 0, &device)).ok());
  const int64_t rows = 70, cols = 600;
  // Under kCs256GemmTokens (AVX-512) or 64 (elsewhere) tokens the sparse kernels, 8 tokens a
  // pass: on F16 activations (AVX-512) or F32; 130: rows expanded to dense F32 and multiplied by
  // oneDNN (where the build has it).
  for (const int64_t n_tok : {1, 11, 70, 130}) {
    SCOPED_TRACE(std::to_string(n_tok) + " tokens");
    expect_matmul_equals_the_reference(api, device, rows, cols, n_tok);
  }
  const auto w = random_matrix(rows, cols, 8);
  const auto blob = cs::encode(w.data(), rows, cols, nullptr, options(0.66));
  std::vector<float> x(cols, 1.0f), y(rows, 0.0f);
  hearth_op op = matmul(blob, x, y, rows, cols, 1);
  // One token with an infinite input: IEEE arithmetic as the F32 kernels do it (inf or NaN in
  // every row that has a weight at that column), not the F16 kernel's refusal.
  x[5] = INFINITY;
  ASSERT_TRUE(take(api.run_op(device, &op)).ok());
  const auto dense = dequantized(blob, rows, cols);
  for (int64_t r = 0; r < rows; ++r)
    if (dense[r * cols + 5] != 0.0f) {
      EXPECT_FALSE(std::isfinite(y[r])) << r;
    }
  // A corrupt blob is refused, not run.
  auto broken = blob;
  const auto b = view(broken);
  const uint32_t p = b.row_pointer(1) + 8;
  std::memcpy(broken.data() + b.layout.row_pointers + 4, &p, 4);
  op.src[0].data = broken.data();
  EXPECT_THAT(take(api.run_op(device, &op)).message(), HasSubstr("disagree with its RowPointers"));
  api.close_device(device);
}

void Plugins::expect_matmul_equals_the_reference(const hearth_backend_api& api, void* device,
                                                 int64_t rows, int64_t cols, int64_t n_tok) {
  const auto w = random_matrix(rows, cols, 8);
  const auto blob = cs::encode(w.data(), rows, cols, nullptr, options(0.66));
  const auto dense = dequantized(blob, rows, cols);
  auto x = random_matrix(n_tok, cols, 10);
  std::vector<float> y(rows * n_tok, NAN);
  hearth_op op = matmul(blob, x, y, rows, cols, n_tok);
  EXPECT_TRUE(take(api.supports_op(device, &op)).ok());
  const auto status = take(api.run_op(device, &op));
  ASSERT_TRUE(status.ok()) << status.message();
  // The F16-activation kernels: within 2^-11 of each |w x|.
  const bool halves = n_tok < cpu::kCs256GemmTokens && cpu::cpu_has_avx512_vnni();
  const double rounding = halves ? std::ldexp(1.0, -11) : 1e-6;
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double magnitude = 0;
      const double ref = reference_dot(dense, r, cols, x.data() + t * cols, &magnitude);
      ASSERT_NEAR(y[t * rows + r], ref, rounding * magnitude + 1e-6) << r << "," << t;
    }
}

// ------------------------------------------------------------------ GGUF

TEST(Cs256Gguf, TensorsAreSizedFromTheirHeaderAndBrokenHeadersAreRefused) {
  const auto w = random_matrix(10, 300, 6);
  const auto blob = cs::encode(w.data(), 10, 300, nullptr, options(0.5));
  GgufWriter writer;
  writer.set("general.architecture", gguf_string("test"));
  writer.add_tensor("a.weight", HEARTH_DTYPE_CS256, {300, 10}, blob);
  std::vector<float> tail = {1, 2, 3, 4};
  writer.add_tensor("b", HEARTH_DTYPE_F32, {4}, std::as_bytes(std::span(tail)));
  const auto bytes = writer.to_bytes();
  const GgufFile file = GgufFile::parse(bytes, "cs256.gguf");
  const GgufTensorInfo* t = file.tensor("a.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->nbytes, blob.size());
  EXPECT_EQ(std::memcmp(t->data, blob.data(), blob.size()), 0);
  EXPECT_EQ(std::memcmp(file.tensor("b")->data, tail.data(), 16), 0);

  EXPECT_THAT(message_of([&] {
                GgufWriter().add_tensor("x", HEARTH_DTYPE_CS256, {300, 11}, blob);
              }),
              HasSubstr("10 rows of 300 columns"));
  auto shorter = blob;
  shorter.resize(blob.size() - 64);
  EXPECT_THAT(message_of([&] {
                GgufWriter().add_tensor("x", HEARTH_DTYPE_CS256, {300, 10}, shorter);
              }),
              HasSubstr("runs past the end"));
  // The same file cut inside the blob, and with a wrong total_bytes.
  const uint64_t at = file.data_offset() + t->offset;
  std::vector<std::byte> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(at + 100));
  EXPECT_THAT(message_of([&] { GgufFile::parse(cut, "cut.gguf"); }),
              HasSubstr("runs past the end"));
  auto lying = bytes;
  const uint64_t huge = 1ull << 62;
  std::memcpy(lying.data() + at + 8, &huge, 8);
  EXPECT_THAT(message_of([&] { GgufFile::parse(lying, "lying.gguf"); }), HasSubstr("inconsistent"));
  auto magic = bytes;
  magic[at] = std::byte{0};
  EXPECT_THAT(message_of([&] { GgufFile::parse(magic, "magic.gguf"); }),
              HasSubstr("CS256 version-1 header"));
}

}  // namespace
}  // namespace hearth::test
