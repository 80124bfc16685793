// Op conformance: every backend plugin must compute each op of abi.h like the scalar reference in
// reference_ops.cpp, within the tolerances derived there, and must refuse bad ops with errors
// that say what is wrong. Parameterized over backend names; a backend that is not built here, or
// has no device, is skipped. On "cpu" every case is required; other backends may answer
// UNSUPPORTED for the optional ones (weight types beyond F32/F16, views with gaps), which skips
// those tests.
//
// Inputs are random and fresh each run; every failure prints HEARTH_TEST_SEED=<seed>, and
// running the failing test again with that variable set regenerates the same inputs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <hearth/sdk/kv_quant.hpp>

#include <array>

#include "device_under_test.hpp"
#include "random_inputs.hpp"
#include "reference_ops.hpp"

namespace hearth::conformance {
namespace {

using ::testing::HasSubstr;

std::string dtype_label(hearth_dtype dtype) {
  switch (dtype) {
    case HEARTH_DTYPE_F32:
      return "F32";
    case HEARTH_DTYPE_F16:
      return "F16";
    case HEARTH_DTYPE_BF16:
      return "BF16";
    case HEARTH_DTYPE_Q8_0:
      return "Q8_0";
    case HEARTH_DTYPE_Q4_0:
      return "Q4_0";
    case HEARTH_DTYPE_Q5_0:
      return "Q5_0";
    case HEARTH_DTYPE_Q4_K:
      return "Q4_K";
    case HEARTH_DTYPE_Q5_K:
      return "Q5_K";
    case HEARTH_DTYPE_Q6_K:
      return "Q6_K";
    default:
      return "dtype " + std::to_string(dtype);
  }
}

// Every element within its tolerance; on failure, the count and the first few offenders.
void expect_within(const std::vector<float>& got, const Expected& want) {
  ASSERT_EQ(got.size(), want.value.size());
  int64_t bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < got.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(got[i]) - want.value[i]);
    if (diff <= want.tolerance[i]) continue;  // false for NaN
    if (++bad <= 5)
      first << "\n  [" << i << "] got " << got[i] << ", want " << want.value[i] << " (|diff| "
            << diff << " > tolerance " << want.tolerance[i] << ")";
  }
  EXPECT_EQ(bad, 0) << bad << " of " << got.size() << " elements outside tolerance:" << first.str();
}

class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    seed_trace_ = std::make_unique<::testing::ScopedTrace>(__FILE__, __LINE__, seed_note());
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    rng_ = generator_for(std::string(info->test_suite_name()) + "." + info->name());
    std::string skip;
    device_ = DeviceUnderTest::open(GetParam(), {}, skip);
    if (!device_) GTEST_SKIP() << skip;
  }
  void TearDown() override {
    device_.reset();
    seed_trace_.reset();
  }

  // The backend's reason when an optional case is declined (never on "cpu": there it is a failure).
  std::optional<std::string> declined(const hearth_op& op) const {
    if (GetParam() == "cpu") return std::nullopt;
    auto status = device_->supports(op);
    if (status.code() == HEARTH_ERR_UNSUPPORTED) return status.message();
    return std::nullopt;
  }

  DeviceTensor upload(const HostTensor& t) const { return device_->upload(t); }

  // Runs op (whose dst is `out`) and returns dst's values, or nullopt after recording a failure.
  std::optional<std::vector<float>> execute(const hearth_op& op, DeviceTensor& out) const {
    auto support = device_->supports(op);
    if (!support.ok()) {
      ADD_FAILURE() << "supports_op refused a valid op (code " << support.code()
                    << "): " << support.message();
      return std::nullopt;
    }
    auto status = device_->run(op);
    if (!status.ok()) {
      ADD_FAILURE() << "run_op failed (code " << status.code() << "): " << status.message();
      return std::nullopt;
    }
    device_->download(out);
    return out.host.dense_f32();
  }

  void check(const hearth_op& op, DeviceTensor& out, const Expected& want) const {
    if (auto got = execute(op, out)) expect_within(*got, want);
  }

  // A run_op that must fail with `code`; returns its message.
  std::string expect_refusal(const hearth_op& op, hearth_status_code code) const {
    EXPECT_FALSE(device_->supports(op).ok()) << "supports_op accepted a bad op";
    auto status = device_->run(op);
    EXPECT_EQ(status.code(), code) << status.message();
    EXPECT_FALSE(status.message().empty());
    return status.message();
  }

  void check_embedding(hearth_dtype dtype, bool optional);
  void check_matmul(hearth_dtype dtype, bool optional);
  void check_rope(int mode);

  std::mt19937_64 rng_;
  std::unique_ptr<::testing::ScopedTrace> seed_trace_;
  std::unique_ptr<DeviceUnderTest> device_;
};

// ------------------------------------------------------------------ EMBEDDING

void Conformance::check_embedding(hearth_dtype dtype, bool optional) {
  const bool blocks =
      dtype == HEARTH_DTYPE_Q8_0 || dtype == HEARTH_DTYPE_Q4_0 || dtype == HEARTH_DTYPE_Q5_0;
  if (optional) {
    const auto table = HostTensor::raw(dtype, {64, 10, 1, 1}, 2, row_bytes(dtype, 64));
    const auto probe =
        make_op(HEARTH_OP_EMBEDDING, HostTensor::output({64, 1, 1, 1}, 2).descriptor(nullptr),
                {table.descriptor(nullptr), HostTensor::i32({0}).descriptor(nullptr)});
    if (auto why = declined(probe)) GTEST_SKIP() << *why;
  }
  for (int64_t n_embd : blocks ? std::vector<int64_t>{32, 96} : std::vector<int64_t>{1, 37, 64}) {
    for (int64_t n_tok : {1, 9}) {
      const int64_t n_vocab = 50;
      SCOPED_TRACE("EMBEDDING " + dtype_label(dtype) + " n_embd=" + std::to_string(n_embd) +
                   " n_tok=" + std::to_string(n_tok));
      const WeightMatrix table = random_weights(rng_, dtype, n_embd, n_vocab);
      std::uniform_int_distribution<int32_t> id(0, n_vocab - 1);
      std::vector<int32_t> ids;
      for (int64_t t = 0; t < n_tok; ++t) ids.push_back(id(rng_));
      ids.back() = n_vocab - 1;
      ids.front() = 0;
      auto table_t = upload(HostTensor::weights(table));
      auto ids_t = upload(HostTensor::i32(ids));
      auto out = upload(HostTensor::output({n_embd, n_tok, 1, 1}, 2));
      check(make_op(HEARTH_OP_EMBEDDING, out.descriptor(),
                    {table_t.descriptor(), ids_t.descriptor()}),
            out, embedding(table, ids));
    }
  }
}

TEST_P(Conformance, EmbeddingF32) { check_embedding(HEARTH_DTYPE_F32, false); }
TEST_P(Conformance, EmbeddingF16) { check_embedding(HEARTH_DTYPE_F16, false); }
TEST_P(Conformance, EmbeddingBF16) { check_embedding(HEARTH_DTYPE_BF16, false); }
TEST_P(Conformance, EmbeddingQ8_0) { check_embedding(HEARTH_DTYPE_Q8_0, true); }
TEST_P(Conformance, EmbeddingQ4_0) { check_embedding(HEARTH_DTYPE_Q4_0, true); }
TEST_P(Conformance, EmbeddingQ5_0) { check_embedding(HEARTH_DTYPE_Q5_0, true); }

// ------------------------------------------------------------------ RMS_NORM

TEST_P(Conformance, RmsNorm) {
  for (const Shape& shape : {Shape{1, 1, 1, 1}, Shape{7, 3, 1, 1}, Shape{33, 2, 3, 1},
                             Shape{4096, 2, 1, 1}, Shape{100, 1, 1, 2}}) {
    for (bool with_weight : {false, true}) {
      // sigma 1e-3: mean(x^2) is about eps, so a wrong eps shows.
      for (auto [eps, sigma] :
           {std::pair{1e-5f, 2.0f}, std::pair{1e-6f, 2.0f}, std::pair{1e-6f, 1e-3f}}) {
        SCOPED_TRACE("RMS_NORM shape [" + std::to_string(shape[0]) + ", " +
                     std::to_string(shape[1]) + ", " + std::to_string(shape[2]) + ", " +
                     std::to_string(shape[3]) + "] weight=" + std::to_string(with_weight) +
                     " eps=" + std::to_string(eps) + " sigma=" + std::to_string(sigma));
        const auto x = normal_floats(rng_, element_count(shape), sigma);
        const auto w = uniform_floats(rng_, shape[0], -2.0f, 2.0f);
        auto x_t = upload(HostTensor::f32(shape, 4, x));
        auto w_t = upload(HostTensor::f32({shape[0], 1, 1, 1}, 1, w));
        auto out = upload(HostTensor::output(shape, 4));
        auto op = with_weight ? make_op(HEARTH_OP_RMS_NORM, out.descriptor(),
                                        {x_t.descriptor(), w_t.descriptor()})
                              : make_op(HEARTH_OP_RMS_NORM, out.descriptor(), {x_t.descriptor()});
        op.fparams[0] = eps;
        check(op, out, rms_norm(x, shape, with_weight ? &w : nullptr, eps));
      }
    }
  }
}

TEST_P(Conformance, RmsNormInPlace) {
  const Shape shape{65, 3, 1, 1};
  const auto x = normal_floats(rng_, element_count(shape), 1.0f);
  const auto w = uniform_floats(rng_, shape[0], -1.0f, 1.0f);
  auto x_t = upload(HostTensor::f32(shape, 2, x));
  auto w_t = upload(HostTensor::f32({shape[0], 1, 1, 1}, 1, w));
  auto op = make_op(HEARTH_OP_RMS_NORM, x_t.descriptor(), {x_t.descriptor(), w_t.descriptor()});
  op.fparams[0] = 1e-5f;
  check(op, x_t, rms_norm(x, shape, &w, 1e-5f));
}

// ------------------------------------------------------------------ MATMUL

void Conformance::check_matmul(hearth_dtype dtype, bool optional) {
  const bool blocks =
      dtype == HEARTH_DTYPE_Q8_0 || dtype == HEARTH_DTYPE_Q4_0 || dtype == HEARTH_DTYPE_Q5_0;
  const bool k_quant =
      dtype == HEARTH_DTYPE_Q4_K || dtype == HEARTH_DTYPE_Q5_K || dtype == HEARTH_DTYPE_Q6_K;
  if (optional) {
    const int64_t n = k_quant ? 256 : 64;
    const auto w = HostTensor::raw(dtype, {n, 4, 1, 1}, 2, row_bytes(dtype, n));
    const auto probe =
        make_op(HEARTH_OP_MATMUL, HostTensor::output({4, 1, 1, 1}, 2).descriptor(nullptr),
                {w.descriptor(nullptr), HostTensor::output({n, 1, 1, 1}, 2).descriptor(nullptr)});
    if (auto why = declined(probe)) GTEST_SKIP() << *why;
  }
  struct Case {
    int64_t n_in, n_out, n_tok, x_row_pad, dst_row_pad;
  };
  std::vector<Case> cases;
  // Row lengths: any for plain types, whole 32-blocks for Q8_0/Q4_0, 256-blocks for K-quants.
  const auto n_in_of = [&](int64_t k, int64_t block, int64_t plain) {
    return k_quant ? k : blocks ? block : plain;
  };
  const std::vector<int64_t> n_ins = k_quant  ? std::vector<int64_t>{256, 768}
                                     : blocks ? std::vector<int64_t>{32, 96, 288}
                                              : std::vector<int64_t>{1, 7, 33, 100, 257};
  for (int64_t n_in : n_ins)
    for (int64_t n_out : {1, 5, 67})
      for (int64_t n_tok : {1, 2, 17}) cases.push_back({n_in, n_out, n_tok, 0, 0});
  // Decode batches of 3..8 tokens (the GPU decode kernels specialise by token count); plain rows
  // a multiple of 8 long, as those kernels take them.
  for (int64_t n_tok : {3, 4, 5, 8}) cases.push_back({n_in_of(512, 128, 136), 37, n_tok, 0, 0});
  cases.push_back({256, 130, 40, 0, 0});  // big enough for a blocked prompt-processing path
  // A GEMM route (CUDA's cuBLAS from 16 tokens): odd sizes, and views whose row gaps the GEMM
  // must stride over.
  cases.push_back({n_in_of(512, 160, 77), 37, 19, 0, 0});
  cases.push_back({n_in_of(256, 96, 45), 23, 33, 3, 5});
  // Activations and dst as views with row gaps.
  cases.push_back({n_in_of(256, 64, 40), 9, 1, 3, 5});
  cases.push_back({n_in_of(256, 64, 40), 9, 6, 3, 5});
  for (const Case& c : cases) {
    SCOPED_TRACE("MATMUL " + dtype_label(dtype) + " n_in=" + std::to_string(c.n_in) +
                 " n_out=" + std::to_string(c.n_out) + " n_tok=" + std::to_string(c.n_tok) +
                 " x_row_pad=" + std::to_string(c.x_row_pad) +
                 " dst_row_pad=" + std::to_string(c.dst_row_pad));
    const WeightMatrix w = random_weights(rng_, dtype, c.n_in, c.n_out);
    const auto x = normal_floats(rng_, c.n_in * c.n_tok, 1.0f);
    auto w_t = upload(HostTensor::weights(w));
    auto x_t = upload(HostTensor::f32({c.n_in, c.n_tok, 1, 1}, 2, x, c.x_row_pad));
    auto out = upload(HostTensor::output({c.n_out, c.n_tok, 1, 1}, 2, c.dst_row_pad));
    check(make_op(HEARTH_OP_MATMUL, out.descriptor(), {w_t.descriptor(), x_t.descriptor()}), out,
          matmul(w, x, c.n_tok));
  }
}

TEST_P(Conformance, MatmulF32) { check_matmul(HEARTH_DTYPE_F32, false); }
TEST_P(Conformance, MatmulF16) { check_matmul(HEARTH_DTYPE_F16, false); }
TEST_P(Conformance, MatmulBF16) { check_matmul(HEARTH_DTYPE_BF16, true); }
TEST_P(Conformance, MatmulQ8_0) { check_matmul(HEARTH_DTYPE_Q8_0, true); }
TEST_P(Conformance, MatmulQ4_0) { check_matmul(HEARTH_DTYPE_Q4_0, true); }
TEST_P(Conformance, MatmulQ5_0) { check_matmul(HEARTH_DTYPE_Q5_0, true); }
TEST_P(Conformance, MatmulQ4_K) { check_matmul(HEARTH_DTYPE_Q4_K, true); }
TEST_P(Conformance, MatmulQ5_K) { check_matmul(HEARTH_DTYPE_Q5_K, true); }
TEST_P(Conformance, MatmulQ6_K) { check_matmul(HEARTH_DTYPE_Q6_K, true); }

// ------------------------------------------------------------------ ROPE

void Conformance::check_rope(int mode) {
  struct Head {
    int64_t head_dim;
    int n_rot;
  };
  const std::vector<Head> heads = {{64, 64}, {64, 32}, {6, 2}, {10, 6}, {128, 128}};
  // Fixed edge cases first (partial rotation, positions far from 0, factors, in place), then a
  // random sample of the rest of the parameter space.
  for (int c = 0; c < 40; ++c) {
    const Head head = c < 4 ? heads[static_cast<size_t>(c % 4 + 1)]
                            : heads[static_cast<size_t>(pick(rng_, {0, 1, 2, 3, 4}))];
    const int64_t n_heads = c < 4 ? 3 : pick(rng_, {1, 3});
    const int64_t n_tok = c < 4 ? 5 : pick(rng_, {1, 5});
    const int64_t start = c < 4 ? 3000 : pick(rng_, {0, 17, 3000});
    const float base = c < 4 ? 10000.0f : static_cast<float>(pick(rng_, {10000, 500000, 1000000}));
    const float scale = c < 4 ? 1.0f : (pick(rng_, {0, 1}) ? 0.25f : 1.0f);
    const bool with_factors = c < 4 ? c % 2 == 1 : pick(rng_, {0, 1}) == 1;
    const bool in_place = c < 4 ? c >= 2 : pick(rng_, {0, 1}) == 1;
    SCOPED_TRACE(
        "ROPE mode=" + std::to_string(mode) + " head_dim=" + std::to_string(head.head_dim) +
        " n_rot=" + std::to_string(head.n_rot) + " n_heads=" + std::to_string(n_heads) +
        " n_tok=" + std::to_string(n_tok) + " first_pos=" + std::to_string(start) +
        " base=" + std::to_string(base) + " scale=" + std::to_string(scale) +
        " factors=" + std::to_string(with_factors) + " in_place=" + std::to_string(in_place));
    const Shape shape{head.head_dim, n_heads, n_tok, 1};
    const auto x = normal_floats(rng_, element_count(shape), 1.0f);
    std::vector<int32_t> positions;
    std::uniform_int_distribution<int32_t> offset(0, 63);
    for (int64_t t = 0; t < n_tok; ++t)
      positions.push_back(static_cast<int32_t>(start) + offset(rng_));
    const auto factors = uniform_floats(rng_, head.n_rot / 2, 1.0f, 8.0f);
    auto x_t = upload(HostTensor::f32(shape, 3, x));
    auto pos_t = upload(HostTensor::i32(positions));
    auto ff_t = upload(HostTensor::f32({head.n_rot / 2, 1, 1, 1}, 1, factors));
    auto separate_out = upload(HostTensor::output(shape, 3));
    DeviceTensor& out = in_place ? x_t : separate_out;
    auto op = with_factors ? make_op(HEARTH_OP_ROPE, out.descriptor(),
                                     {x_t.descriptor(), pos_t.descriptor(), ff_t.descriptor()})
                           : make_op(HEARTH_OP_ROPE, out.descriptor(),
                                     {x_t.descriptor(), pos_t.descriptor()});
    op.iparams[0] = head.n_rot;
    op.iparams[1] = mode;
    op.fparams[0] = base;
    op.fparams[1] = scale;
    RopeParams params{head.n_rot, mode, base, scale, with_factors ? &factors : nullptr};
    check(op, out, rope(x, shape, positions, params));
  }
}

TEST_P(Conformance, RopeNorm) { check_rope(HEARTH_ROPE_NORM); }
TEST_P(Conformance, RopeNeox) { check_rope(HEARTH_ROPE_NEOX); }

// ------------------------------------------------------------------ ATTENTION

struct AttentionCase {
  const char* name;
  AttentionShape shape;
  std::vector<int32_t> pos_q;
  std::vector<int32_t> pos_k;
};

std::vector<int32_t> range_positions(int32_t first, int64_t n) {
  std::vector<int32_t> p;
  for (int64_t i = 0; i < n; ++i) p.push_back(first + static_cast<int32_t>(i));
  return p;
}

std::vector<AttentionCase> attention_cases() {
  std::vector<AttentionCase> cases;
  struct Heads {
    int64_t head_dim, n_head, n_head_kv;
  };
  // GQA ratios 1, 2, 4 and an odd head_dim.
  for (const Heads& h : {Heads{8, 4, 4}, Heads{16, 4, 2}, Heads{64, 8, 2}, Heads{5, 2, 1}}) {
    auto shape = [&](int64_t n_q, int64_t n_kv) {
      return AttentionShape{h.head_dim, h.n_head, h.n_head_kv, n_q, n_kv};
    };
    cases.push_back({"decode, one key", shape(1, 1), {0}, {0}});
    cases.push_back(
        {"decode after 12 tokens at position 100", shape(1, 13), {112}, range_positions(100, 13)});
    cases.push_back({"prefill from 0", shape(7, 7), range_positions(0, 7), range_positions(0, 7)});
    cases.push_back(
        {"chunked prefill at 40", shape(4, 11), range_positions(47, 4), range_positions(40, 11)});
    cases.push_back({"cache with evicted slots", shape(2, 6), {30, 31}, {0, 1, 9, 20, 29, 31}});
    // Longer than a GPU key chunk (256): decode split over blocks, and a prompt with enough
    // queries to stay unsplit while summing several chunks, most of them hidden from early queries.
    cases.push_back(
        {"decode over 700 cached keys", shape(1, 700), {799}, range_positions(100, 700)});
    cases.push_back({"140 queries over 600 keys", shape(140, 600), range_positions(460, 140),
                     range_positions(0, 600)});
  }
  cases.push_back(
      {"query before every key (sees none)", AttentionShape{8, 2, 1, 2, 3}, {5, 12}, {10, 11, 12}});
  return cases;
}

TEST_P(Conformance, Attention) {
  for (const auto& c : attention_cases()) {
    for (float scale_factor : {1.0f, 3.0f}) {
      const auto& s = c.shape;
      const float scale = scale_factor / std::sqrt(static_cast<float>(s.head_dim));
      SCOPED_TRACE(std::string("ATTENTION ") + c.name + " head_dim=" + std::to_string(s.head_dim) +
                   " n_head=" + std::to_string(s.n_head) +
                   " n_head_kv=" + std::to_string(s.n_head_kv) + " n_q=" + std::to_string(s.n_q) +
                   " n_kv=" + std::to_string(s.n_kv) + " scale=" + std::to_string(scale));
      const auto q = normal_floats(rng_, s.head_dim * s.n_head * s.n_q, 1.0f);
      const auto k = normal_floats(rng_, s.head_dim * s.n_head_kv * s.n_kv, 1.0f);
      const auto v = normal_floats(rng_, s.head_dim * s.n_head_kv * s.n_kv, 1.0f);
      auto q_t = upload(HostTensor::f32({s.head_dim, s.n_head, s.n_q, 1}, 3, q));
      auto k_t = upload(HostTensor::f32({s.head_dim, s.n_head_kv, s.n_kv, 1}, 3, k));
      auto v_t = upload(HostTensor::f32({s.head_dim, s.n_head_kv, s.n_kv, 1}, 3, v));
      auto pq_t = upload(HostTensor::i32(c.pos_q));
      auto pk_t = upload(HostTensor::i32(c.pos_k));
      auto out = upload(HostTensor::output({s.head_dim, s.n_head, s.n_q, 1}, 3));
      auto op = make_op(HEARTH_OP_ATTENTION, out.descriptor(),
                        {q_t.descriptor(), k_t.descriptor(), v_t.descriptor(), pq_t.descriptor(),
                         pk_t.descriptor()});
      op.fparams[0] = scale;
      check(op, out, attention(q, k, v, c.pos_q, c.pos_k, s, scale));
    }
  }
}

// q, k and v as views into fused buffers (gaps between tokens), dst with padded rows.
TEST_P(Conformance, AttentionOnViews) {
  const AttentionShape s{16, 4, 2, 3, 9};
  const auto q = normal_floats(rng_, s.head_dim * s.n_head * s.n_q, 1.0f);
  const auto k = normal_floats(rng_, s.head_dim * s.n_head_kv * s.n_kv, 1.0f);
  const auto v = normal_floats(rng_, s.head_dim * s.n_head_kv * s.n_kv, 1.0f);
  const std::vector<int32_t> pos_q = range_positions(6, 3), pos_k = range_positions(0, 9);
  auto q_t = upload(HostTensor::f32({s.head_dim, s.n_head, s.n_q, 1}, 3, q, 0, 256));
  auto k_t = upload(HostTensor::f32({s.head_dim, s.n_head_kv, s.n_kv, 1}, 3, k, 0, 128));
  auto v_t = upload(HostTensor::f32({s.head_dim, s.n_head_kv, s.n_kv, 1}, 3, v, 4, 64));
  auto pq_t = upload(HostTensor::i32(pos_q));
  auto pk_t = upload(HostTensor::i32(pos_k));
  auto out = upload(HostTensor::output({s.head_dim, s.n_head, s.n_q, 1}, 3, 3));
  auto op = make_op(
      HEARTH_OP_ATTENTION, out.descriptor(),
      {q_t.descriptor(), k_t.descriptor(), v_t.descriptor(), pq_t.descriptor(), pk_t.descriptor()});
  op.fparams[0] = 0.25f;
  if (auto why = declined(op)) GTEST_SKIP() << *why;
  check(op, out, attention(q, k, v, pos_q, pos_k, s, 0.25f));
}

// Keys and values of an F16 cache: normal floats rounded to F16, returned as those F16 values.
std::vector<float> f16_values(std::mt19937_64& rng, int64_t n) {
  auto values = normal_floats(rng, n, 1.0f);
  for (float& x : values) x = static_cast<float>(round_to_dtype(x, HEARTH_DTYPE_F16));
  return values;
}

// F16 k and v (llama.cpp's default KV cache): q and the probabilities rounded to F16 as ggml's
// non-flash attention does. Optional off "cpu".
TEST_P(Conformance, AttentionF16Kv) {
  for (const auto& c : attention_cases()) {
    for (float scale_factor : {1.0f, 3.0f}) {
      const auto& s = c.shape;
      const float scale = scale_factor / std::sqrt(static_cast<float>(s.head_dim));
      SCOPED_TRACE(std::string("ATTENTION F16 k/v ") + c.name + " head_dim=" +
                   std::to_string(s.head_dim) + " n_head=" + std::to_string(s.n_head) +
                   " n_head_kv=" + std::to_string(s.n_head_kv) + " n_q=" + std::to_string(s.n_q) +
                   " n_kv=" + std::to_string(s.n_kv) + " scale=" + std::to_string(scale));
      const auto q = normal_floats(rng_, s.head_dim * s.n_head * s.n_q, 1.0f);
      const auto k = f16_values(rng_, s.head_dim * s.n_head_kv * s.n_kv);
      const auto v = f16_values(rng_, s.head_dim * s.n_head_kv * s.n_kv);
      const Shape kv_shape{s.head_dim, s.n_head_kv, s.n_kv, 1};
      auto q_t = upload(HostTensor::f32({s.head_dim, s.n_head, s.n_q, 1}, 3, q));
      auto k_t = upload(HostTensor::floats(HEARTH_DTYPE_F16, kv_shape, 3, k));
      auto v_t = upload(HostTensor::floats(HEARTH_DTYPE_F16, kv_shape, 3, v));
      auto pq_t = upload(HostTensor::i32(c.pos_q));
      auto pk_t = upload(HostTensor::i32(c.pos_k));
      auto out = upload(HostTensor::output({s.head_dim, s.n_head, s.n_q, 1}, 3));
      auto op = make_op(HEARTH_OP_ATTENTION, out.descriptor(),
                        {q_t.descriptor(), k_t.descriptor(), v_t.descriptor(), pq_t.descriptor(),
                         pk_t.descriptor()});
      op.fparams[0] = scale;
      if (auto why = declined(op)) GTEST_SKIP() << *why;
      check(op, out, attention_f16_kv(q, k, v, c.pos_q, c.pos_k, s, scale));
    }
  }
}

// The F16 cache as the engine passes it: k and v the first n_kv slots of larger caches (gaps
// between heads' planes), q a view with gaps, dst with padded rows.
TEST_P(Conformance, AttentionF16KvOnViews) {
  const AttentionShape s{16, 4, 2, 3, 9};
  const auto q = normal_floats(rng_, s.head_dim * s.n_head * s.n_q, 1.0f);
  const auto k = f16_values(rng_, s.head_dim * s.n_head_kv * s.n_kv);
  const auto v = f16_values(rng_, s.head_dim * s.n_head_kv * s.n_kv);
  const std::vector<int32_t> pos_q = range_positions(6, 3), pos_k = range_positions(0, 9);
  const Shape kv_shape{s.head_dim, s.n_head_kv, s.n_kv, 1};
  auto q_t = upload(HostTensor::f32({s.head_dim, s.n_head, s.n_q, 1}, 3, q, 0, 256));
  auto k_t = upload(HostTensor::floats(HEARTH_DTYPE_F16, kv_shape, 3, k, 0, 128));
  auto v_t = upload(HostTensor::floats(HEARTH_DTYPE_F16, kv_shape, 3, v, 4, 64));
  auto pq_t = upload(HostTensor::i32(pos_q));
  auto pk_t = upload(HostTensor::i32(pos_k));
  auto out = upload(HostTensor::output({s.head_dim, s.n_head, s.n_q, 1}, 3, 3));
  auto op = make_op(
      HEARTH_OP_ATTENTION, out.descriptor(),
      {q_t.descriptor(), k_t.descriptor(), v_t.descriptor(), pq_t.descriptor(), pk_t.descriptor()});
  op.fparams[0] = 0.25f;
  if (auto why = declined(op)) GTEST_SKIP() << *why;
  check(op, out, attention_f16_kv(q, k, v, pos_q, pos_k, s, 0.25f));
}

// ------------------------------------------------------------------ ATTENTION_SLOTS

// Bytes uploaded as they are (slot records, positions, the slot table).
HostTensor raw_bytes(const void* data, size_t bytes) {
  HostTensor t;
  t.dtype = HEARTH_DTYPE_I8;
  t.n_dims = 1;
  t.ne = {static_cast<int64_t>(bytes), 1, 1, 1};
  t.nb = {1, static_cast<int64_t>(bytes), static_cast<int64_t>(bytes), static_cast<int64_t>(bytes)};
  t.bytes.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + bytes);
  return t;
}

// A policy-managed cache on the device: every KV head holds the same tokens, slot j at tier
// bits[j]; the op numbers slots through the tiers (16, 8, 4, 2, 1) in order.
struct SlotCacheOnDevice {
  std::vector<DeviceTensor> buffers;  // records and positions, kept alive
  std::vector<hearth_kv_slot_head> table;
  std::vector<int32_t> op_positions;  // positions in the op's slot order
  std::vector<float> k_seen, v_seen;  // [head_dim, n_head_kv, n_kv] what each record decodes to
};

SlotCacheOnDevice build_slot_cache(const DeviceUnderTest& device, const std::vector<float>& k,
                                   const std::vector<float>& v, const std::vector<int32_t>& pos_k,
                                   const std::vector<uint32_t>& bits, const AttentionShape& s,
                                   uint32_t group) {
  SlotCacheOnDevice out;
  const auto hd = static_cast<uint32_t>(s.head_dim);
  const std::array<uint32_t, 5> tiers = {16, 8, 4, 2, 1};
  out.table.resize(static_cast<size_t>(s.n_head_kv));
  out.k_seen.resize(k.size());
  out.v_seen.resize(v.size());
  std::vector<size_t> order;  // source slot of each op slot
  for (uint32_t b : tiers)
    for (size_t j = 0; j < bits.size(); ++j)
      if (bits[j] == b) order.push_back(j);
  for (size_t j : order) out.op_positions.push_back(pos_k[j]);
  for (int64_t g = 0; g < s.n_head_kv; ++g) {
    hearth_kv_slot_head& head = out.table[static_cast<size_t>(g)];
    head.n_tiers = 5;
    size_t next = 0;
    for (size_t t = 0; t < tiers.size(); ++t) {
      const uint64_t rb = hearth_kv_record_bytes(tiers[t], hd, group);
      std::vector<uint8_t> k_rec, v_rec;
      std::vector<int32_t> positions;
      for (size_t j = 0; j < bits.size(); ++j) {
        if (bits[j] != tiers[t]) continue;
        const size_t at = (static_cast<size_t>(j) * s.n_head_kv + g) * hd;
        k_rec.resize(k_rec.size() + rb);
        v_rec.resize(v_rec.size() + rb);
        sdk::kv_quantize_record(&k[at], tiers[t], hd, group, k_rec.data() + k_rec.size() - rb);
        sdk::kv_quantize_record(&v[at], tiers[t], hd, group, v_rec.data() + v_rec.size() - rb);
        const size_t seen = (next * s.n_head_kv + g) * hd;
        sdk::kv_dequantize_record(k_rec.data() + k_rec.size() - rb, tiers[t], hd, group,
                                  &out.k_seen[seen]);
        sdk::kv_dequantize_record(v_rec.data() + v_rec.size() - rb, tiers[t], hd, group,
                                  &out.v_seen[seen]);
        positions.push_back(pos_k[j]);
        ++next;
      }
      hearth_kv_slot_tier& tier = head.tiers[t];
      tier.bits = tiers[t];
      tier.n_slots = static_cast<uint32_t>(positions.size());
      if (positions.empty()) continue;
      out.buffers.push_back(device.upload(raw_bytes(k_rec.data(), k_rec.size())));
      tier.k = out.buffers.back().buffer->data();
      out.buffers.push_back(device.upload(raw_bytes(v_rec.data(), v_rec.size())));
      tier.v = out.buffers.back().buffer->data();
      out.buffers.push_back(
          device.upload(raw_bytes(positions.data(), positions.size() * sizeof(int32_t))));
      tier.positions = static_cast<const int32_t*>(out.buffers.back().buffer->data());
    }
  }
  return out;
}

hearth_op slots_op(const DeviceTensor& out, const DeviceTensor& q, const DeviceTensor& table,
                   const DeviceTensor& pos_q, const DeviceTensor* mass, int64_t n_head_kv,
                   uint32_t group, float scale) {
  hearth_tensor table_t = table.descriptor();
  table_t.ne[0] = n_head_kv;
  auto op = mass ? make_op(HEARTH_OP_ATTENTION_SLOTS, out.descriptor(),
                           {q.descriptor(), table_t, pos_q.descriptor(), mass->descriptor()})
                 : make_op(HEARTH_OP_ATTENTION_SLOTS, out.descriptor(),
                           {q.descriptor(), table_t, pos_q.descriptor()});
  op.iparams[0] = static_cast<int32_t>(group);
  op.fparams[0] = scale;
  return op;
}

// The attention mass each op slot got from each query, summed over the group's query heads,
// in double from the values the records decode to.
std::vector<double> reference_mass(const std::vector<float>& q, const std::vector<float>& k_seen,
                                   const std::vector<int32_t>& pos_q,
                                   const std::vector<int32_t>& pos_k, const AttentionShape& s,
                                   float scale) {
  std::vector<double> mass(static_cast<size_t>(s.n_kv * s.n_head_kv * s.n_q), 0.0);
  const int64_t group = s.n_head / s.n_head_kv;
  for (int64_t i = 0; i < s.n_q; ++i)
    for (int64_t h = 0; h < s.n_head; ++h) {
      const int64_t g = h / group;
      std::vector<double> score(static_cast<size_t>(s.n_kv), 0.0);
      double max = -1e300;
      for (int64_t j = 0; j < s.n_kv; ++j) {
        if (pos_k[j] > pos_q[i]) continue;
        double dot = 0;
        for (int64_t d = 0; d < s.head_dim; ++d)
          dot += static_cast<double>(q[(i * s.n_head + h) * s.head_dim + d]) *
                 k_seen[(j * s.n_head_kv + g) * s.head_dim + d];
        score[j] = dot * scale;
        max = std::max(max, score[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < s.n_kv; ++j)
        if (pos_k[j] <= pos_q[i]) sum += std::exp(score[j] - max);
      for (int64_t j = 0; j < s.n_kv; ++j)
        if (pos_k[j] <= pos_q[i])
          mass[(i * s.n_head_kv + g) * s.n_kv + j] += std::exp(score[j] - max) / sum;
    }
  return mass;
}

// With every slot at 16 bits in insertion order, ATTENTION_SLOTS is ATTENTION over an F16 cache:
// within that op's reference tolerance, and bit for bit where the device runs both (the `full`
// policy must equal the plain cache); each visible query's mass sums to its group's query-head
// count.
TEST_P(Conformance, AttentionSlotsAt16BitsEqualF16Cache) {
  for (const auto& c : attention_cases()) {
    const auto& s = c.shape;
    const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
    SCOPED_TRACE(std::string("ATTENTION_SLOTS 16-bit ") + c.name +
                 " head_dim=" + std::to_string(s.head_dim) + " n_head=" + std::to_string(s.n_head) +
                 " n_head_kv=" + std::to_string(s.n_head_kv));
    const auto q = normal_floats(rng_, s.head_dim * s.n_head * s.n_q, 1.0f);
    const auto k = f16_values(rng_, s.head_dim * s.n_head_kv * s.n_kv);
    const auto v = f16_values(rng_, s.head_dim * s.n_head_kv * s.n_kv);
    const Shape kv_shape{s.head_dim, s.n_head_kv, s.n_kv, 1};
    const auto group = static_cast<uint32_t>(s.head_dim);
    auto cache = build_slot_cache(*device_, k, v, c.pos_k,
                                  std::vector<uint32_t>(static_cast<size_t>(s.n_kv), 16), s, group);
    auto table =
        upload(raw_bytes(cache.table.data(), cache.table.size() * sizeof(hearth_kv_slot_head)));
    auto q_t = upload(HostTensor::f32({s.head_dim, s.n_head, s.n_q, 1}, 3, q));
    auto k_t = upload(HostTensor::floats(HEARTH_DTYPE_F16, kv_shape, 3, k));
    auto v_t = upload(HostTensor::floats(HEARTH_DTYPE_F16, kv_shape, 3, v));
    auto pq_t = upload(HostTensor::i32(c.pos_q));
    auto pk_t = upload(HostTensor::i32(c.pos_k));
    auto plain_out = upload(HostTensor::output({s.head_dim, s.n_head, s.n_q, 1}, 3));
    auto slots_out = upload(HostTensor::output({s.head_dim, s.n_head, s.n_q, 1}, 3));
    auto mass = upload(HostTensor::output({s.n_kv + 2, s.n_head_kv, s.n_q, 1}, 3));
    auto plain = make_op(HEARTH_OP_ATTENTION, plain_out.descriptor(),
                         {q_t.descriptor(), k_t.descriptor(), v_t.descriptor(), pq_t.descriptor(),
                          pk_t.descriptor()});
    plain.fparams[0] = scale;
    auto op = slots_op(slots_out, q_t, table, pq_t, &mass, s.n_head_kv, group, scale);
    if (auto why = declined(op)) GTEST_SKIP() << *why;
    check(op, slots_out, attention_f16_kv(q, k, v, c.pos_q, c.pos_k, s, scale));
    // Bit for bit where the device also runs ATTENTION over an F16 cache (a backend with an F32
    // cache only is held to the reference above).
    if (!declined(plain)) {
      const auto want = execute(plain, plain_out);
      const auto got = execute(op, slots_out);
      ASSERT_TRUE(want && got);
      for (size_t i = 0; i < got->size(); ++i)
        ASSERT_EQ(std::memcmp(&(*got)[i], &(*want)[i], sizeof(float)), 0)
            << "element " << i << ": " << (*got)[i] << " vs ATTENTION's " << (*want)[i];
    }
    device_->download(mass);
    const auto m = mass.host.dense_f32();
    const int64_t per_group = s.n_head / s.n_head_kv;
    for (int64_t i = 0; i < s.n_q; ++i)
      for (int64_t g = 0; g < s.n_head_kv; ++g) {
        double sum = 0;
        bool sees_any = false;
        for (int64_t j = 0; j < s.n_kv + 2; ++j) {
          const float x = m[static_cast<size_t>((i * s.n_head_kv + g) * (s.n_kv + 2) + j)];
          if (j >= s.n_kv || c.pos_k[j] > c.pos_q[i]) {
            EXPECT_EQ(x, 0.0f) << "slot " << j;
          }
          if (j < s.n_kv && c.pos_k[j] <= c.pos_q[i]) sees_any = true;
          sum += x;
        }
        EXPECT_NEAR(sum, sees_any ? static_cast<double>(per_group) : 0.0, 1e-5);
      }
  }
}

// Quantized tiers (8, 4, 2, 1 bits mixed in one head): the output is attention over what the
// records decode to, and the mass matches a double-precision reference.
TEST_P(Conformance, AttentionSlotsMixedTiers) {
  for (const auto& c : attention_cases()) {
    const auto& s = c.shape;
    const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
    SCOPED_TRACE(std::string("ATTENTION_SLOTS mixed ") + c.name +
                 " head_dim=" + std::to_string(s.head_dim) + " n_head=" + std::to_string(s.n_head) +
                 " n_head_kv=" + std::to_string(s.n_head_kv));
    const auto q = normal_floats(rng_, s.head_dim * s.n_head * s.n_q, 1.0f);
    const auto k = normal_floats(rng_, s.head_dim * s.n_head_kv * s.n_kv, 1.0f);
    const auto v = normal_floats(rng_, s.head_dim * s.n_head_kv * s.n_kv, 1.0f);
    std::vector<uint32_t> bits;
    for (int64_t j = 0; j < s.n_kv; ++j) bits.push_back(std::array<uint32_t, 4>{8, 4, 2, 1}[j % 4]);
    // Groups smaller than the head where the head splits evenly, else one group per head.
    const auto group = static_cast<uint32_t>(s.head_dim % 4 == 0 ? s.head_dim / 2 : s.head_dim);
    auto cache = build_slot_cache(*device_, k, v, c.pos_k, bits, s, group);
    auto table =
        upload(raw_bytes(cache.table.data(), cache.table.size() * sizeof(hearth_kv_slot_head)));
    auto q_t = upload(HostTensor::f32({s.head_dim, s.n_head, s.n_q, 1}, 3, q));
    auto pq_t = upload(HostTensor::i32(c.pos_q));
    auto out = upload(HostTensor::output({s.head_dim, s.n_head, s.n_q, 1}, 3));
    auto mass = upload(HostTensor::output({s.n_kv, s.n_head_kv, s.n_q, 1}, 3));
    auto op = slots_op(out, q_t, table, pq_t, &mass, s.n_head_kv, group, scale);
    if (auto why = declined(op)) GTEST_SKIP() << *why;
    check(op, out, attention(q, cache.k_seen, cache.v_seen, c.pos_q, cache.op_positions, s, scale));
    device_->download(mass);
    const auto got = mass.host.dense_f32();
    const auto want = reference_mass(q, cache.k_seen, c.pos_q, cache.op_positions, s, scale);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "mass " << i;
  }
}

// A malformed table is refused before any record is read.
TEST_P(Conformance, AttentionSlotsRefusesBadTables) {
  hearth_kv_slot_head head{};
  head.n_tiers = 1;
  head.tiers[0] = {3, 1, nullptr, nullptr, nullptr};
  auto table = upload(raw_bytes(&head, sizeof head));
  auto q_t = upload(HostTensor::f32({8, 2, 1, 1}, 3, std::vector<float>(16, 1.0f)));
  auto pq_t = upload(HostTensor::i32({0}));
  auto out = upload(HostTensor::output({8, 2, 1, 1}, 3));
  auto op = slots_op(out, q_t, table, pq_t, nullptr, 1, 8, 1.0f);
  if (auto why = declined(op)) GTEST_SKIP() << *why;
  // The table is data: supports_op judges shapes, run_op reads the table and refuses it.
  EXPECT_TRUE(device_->supports(op).ok());
  const auto status = device_->run(op);
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), HasSubstr("bits = 3"));
  op.iparams[0] = 3;  // does not divide head_dim 8
  EXPECT_THAT(expect_refusal(op, HEARTH_ERR_INVALID_ARGUMENT), HasSubstr("group_size"));
}

// ------------------------------------------------------------------ COPY

// Values that exercise the conversions' edges, then random ones of several magnitudes.
std::vector<float> copy_inputs(std::mt19937_64& rng, int64_t n) {
  std::vector<float> x = {0.0f,
                          -0.0f,
                          1.0f,
                          -2.5f,
                          1.0f + 0x1p-11f,      // an F16 tie: rounds to even (1)
                          1.0f + 3 * 0x1p-11f,  // an F16 tie: rounds to even (1 + 2^-9)
                          1.0f + 0x1p-8f,       // a BF16 tie: rounds to even (1)
                          65504.0f,             // F16's largest
                          65519.0f,             // rounds down to 65504
                          65520.0f,             // an F16 tie at the top: rounds to infinity
                          -1e6f,                // F16 overflow
                          6.1e-5f,              // near F16's smallest normal
                          3e-6f,                // an F16 subnormal
                          2e-8f,                // rounds to F16 zero
                          0x1p-140f,            // an F32 subnormal
                          3.0e38f,              // BF16 overflow region
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity()};
  const auto a = normal_floats(rng, n, 1.0f);
  const auto b = normal_floats(rng, n, 3000.0f);
  const auto c = normal_floats(rng, n, 1e-4f);
  for (int64_t i = 0; static_cast<int64_t>(x.size()) < n; ++i) {
    x.push_back(a[i]);
    x.push_back(b[i]);
    x.push_back(c[i]);
  }
  x.resize(static_cast<size_t>(n));
  return x;
}

TEST_P(Conformance, CopyConvertsEveryFloatTypeEachWay) {
  const std::vector<hearth_dtype> types = {HEARTH_DTYPE_F32, HEARTH_DTYPE_F16, HEARTH_DTYPE_BF16};
  struct Layout {
    Shape shape;
    int64_t src_row_pad, src_plane_pad, dst_row_pad, dst_plane_pad;
  };
  const std::vector<Layout> layouts = {{{37, 3, 1, 1}, 0, 0, 0, 0},
                                       {{1, 1, 1, 1}, 0, 0, 0, 0},
                                       {{64, 2, 3, 1}, 5, 32, 0, 0},    // strided source
                                       {{16, 3, 5, 1}, 0, 0, 16, 64}};  // cache slots: a view
  for (hearth_dtype from : types) {
    for (hearth_dtype to : types) {
      for (const Layout& l : layouts) {
        SCOPED_TRACE("COPY " + dtype_label(from) + " -> " + dtype_label(to) +
                     " n=" + std::to_string(element_count(l.shape)) +
                     " src_row_pad=" + std::to_string(l.src_row_pad) +
                     " dst_row_pad=" + std::to_string(l.dst_row_pad));
        auto x = copy_inputs(rng_, element_count(l.shape));
        // The source holds values of its own type.
        for (float& v : x) v = static_cast<float>(round_to_dtype(v, from));
        auto src = upload(HostTensor::floats(from, l.shape, 3, x, l.src_row_pad, l.src_plane_pad));
        auto out = upload(HostTensor::output_of(to, l.shape, 3, l.dst_row_pad, l.dst_plane_pad));
        const auto op = make_op(HEARTH_OP_COPY, out.descriptor(), {src.descriptor()});
        if (auto why = declined(op)) GTEST_SKIP() << *why;
        auto support = device_->supports(op);
        ASSERT_TRUE(support.ok()) << support.message();
        auto status = device_->run(op);
        ASSERT_TRUE(status.ok()) << status.message();
        device_->download(out);
        const auto got = out.host.dense_values();
        const auto want = copy(src.host.dense_values(), to);
        ASSERT_EQ(got.size(), want.value.size());
        int64_t bad = 0;
        for (size_t i = 0; i < got.size(); ++i) {
          // Exact, signed zeros and infinities included.
          if (got[i] == want.value[i] && std::signbit(got[i]) == std::signbit(want.value[i]))
            continue;
          if (++bad <= 5)
            ADD_FAILURE() << "[" << i << "] " << x[i] << ": got " << got[i] << ", want "
                          << want.value[i];
        }
        EXPECT_EQ(bad, 0) << bad << " of " << got.size() << " elements differ";
      }
    }
  }
}

TEST_P(Conformance, CopyShapeMismatchIsRefused) {
  auto src = upload(HostTensor::f32({8, 3, 1, 1}, 2, std::vector<float>(24, 1.0f)));
  auto out = upload(HostTensor::output_of(HEARTH_DTYPE_F16, {8, 2, 1, 1}, 2));
  const auto ok_op = make_op(HEARTH_OP_COPY, src.descriptor(), {src.descriptor()});
  if (auto why = declined(ok_op)) GTEST_SKIP() << *why;
  const auto message = expect_refusal(make_op(HEARTH_OP_COPY, out.descriptor(), {src.descriptor()}),
                                      HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(message, HasSubstr("3"));
  EXPECT_THAT(message, HasSubstr("2"));
}

// ------------------------------------------------------------------ elementwise

// A decode step multiplies one normalized row by q, k and v, then writes over the row: a backend
// that keeps the row's quantized form between MATMULs must reuse it only while it is current,
// and only for a weight type that rounds activations the same way (Q4_K: Q8_K, Q4_0: Q8_0).
TEST_P(Conformance, MatmulsSharingAnInputSeeItsLatestValues) {
  constexpr int64_t kIn = 256, kOut = 37;
  const WeightMatrix w1 = random_weights(rng_, HEARTH_DTYPE_Q4_K, kIn, kOut);
  const WeightMatrix w2 = random_weights(rng_, HEARTH_DTYPE_Q4_0, kIn, kOut);
  const auto x = normal_floats(rng_, kIn, 1.0f);
  const auto b = normal_floats(rng_, kIn, 1.0f);
  auto w1_t = upload(HostTensor::weights(w1));
  auto w2_t = upload(HostTensor::weights(w2));
  auto x_t = upload(HostTensor::f32({kIn, 1, 1, 1}, 2, x));
  auto b_t = upload(HostTensor::f32({kIn, 1, 1, 1}, 2, b));
  auto out1 = upload(HostTensor::output({kOut, 1, 1, 1}, 2));
  auto out2 = upload(HostTensor::output({kOut, 1, 1, 1}, 2));
  auto out3 = upload(HostTensor::output({kOut, 1, 1, 1}, 2));
  const auto first =
      make_op(HEARTH_OP_MATMUL, out1.descriptor(), {w1_t.descriptor(), x_t.descriptor()});
  if (auto why = declined(first)) GTEST_SKIP() << *why;
  if (auto why = declined(
          make_op(HEARTH_OP_MATMUL, out2.descriptor(), {w2_t.descriptor(), x_t.descriptor()})))
    GTEST_SKIP() << *why;
  // No copies in between: they would let a backend drop what it keeps.
  ASSERT_TRUE(device_->run(first).ok());
  ASSERT_TRUE(
      device_
          ->run(make_op(HEARTH_OP_MATMUL, out2.descriptor(), {w2_t.descriptor(), x_t.descriptor()}))
          .ok());
  ASSERT_TRUE(
      device_->run(make_op(HEARTH_OP_ADD, x_t.descriptor(), {x_t.descriptor(), b_t.descriptor()}))
          .ok());
  ASSERT_TRUE(
      device_
          ->run(make_op(HEARTH_OP_MATMUL, out3.descriptor(), {w1_t.descriptor(), x_t.descriptor()}))
          .ok());
  std::vector<float> x_after = x;  // x + b
  for (size_t i = 0; i < x_after.size(); ++i) x_after[i] += b[i];
  struct Expectation {
    DeviceTensor* out;
    const WeightMatrix* w;
    const std::vector<float>* x;
  };
  for (const Expectation& e : {Expectation{&out1, &w1, &x}, Expectation{&out2, &w2, &x},
                               Expectation{&out3, &w1, &x_after}}) {
    device_->download(*e.out);
    expect_within(e.out->host.dense_f32(), matmul(*e.w, *e.x, 1));
  }
}

TEST_P(Conformance, Swiglu) {
  for (const Shape& shape : {Shape{1, 1, 1, 1}, Shape{37, 3, 1, 1}, Shape{256, 2, 2, 1}}) {
    SCOPED_TRACE("SWIGLU n=" + std::to_string(element_count(shape)));
    auto x = normal_floats(rng_, element_count(shape), 3.0f);
    x[0] = -30.0f;  // silu's tail
    const auto g = normal_floats(rng_, element_count(shape), 1.0f);
    auto x_t = upload(HostTensor::f32(shape, 3, x));
    auto g_t = upload(HostTensor::f32(shape, 3, g));
    auto out = upload(HostTensor::output(shape, 3));
    check(make_op(HEARTH_OP_SWIGLU, out.descriptor(), {x_t.descriptor(), g_t.descriptor()}), out,
          swiglu(x, g));
  }
}

TEST_P(Conformance, AddAndMulWithBroadcast) {
  struct Case {
    Shape a, b;
  };
  const std::vector<Case> cases = {{{37, 5, 1, 1}, {37, 5, 1, 1}},  // same shape
                                   {{37, 5, 1, 1}, {37, 1, 1, 1}},  // a bias: one row for every row
                                   {{8, 3, 4, 1}, {8, 1, 4, 1}},   {{8, 3, 4, 1}, {8, 3, 1, 1}},
                                   {{8, 3, 4, 2}, {8, 1, 1, 1}},   {{1, 1, 1, 1}, {1, 1, 1, 1}}};
  for (hearth_op_kind kind : {HEARTH_OP_ADD, HEARTH_OP_MUL}) {
    for (const Case& c : cases) {
      for (bool in_place : {false, true}) {
        SCOPED_TRACE(std::string(kind == HEARTH_OP_ADD ? "ADD" : "MUL") + " a=[" +
                     std::to_string(c.a[0]) + "," + std::to_string(c.a[1]) + "," +
                     std::to_string(c.a[2]) + "," + std::to_string(c.a[3]) + "] b=[" +
                     std::to_string(c.b[0]) + "," + std::to_string(c.b[1]) + "," +
                     std::to_string(c.b[2]) + "," + std::to_string(c.b[3]) +
                     "] in_place=" + std::to_string(in_place));
        const auto a = normal_floats(rng_, element_count(c.a), 10.0f);
        const auto b = normal_floats(rng_, element_count(c.b), 0.01f);
        auto a_t = upload(HostTensor::f32(c.a, 4, a));
        auto b_t = upload(HostTensor::f32(c.b, 4, b));
        auto separate_out = upload(HostTensor::output(c.a, 4));
        DeviceTensor& out = in_place ? a_t : separate_out;
        check(make_op(kind, out.descriptor(), {a_t.descriptor(), b_t.descriptor()}), out,
              kind == HEARTH_OP_ADD ? add(a, c.a, b, c.b) : mul(a, c.a, b, c.b));
      }
    }
  }
}

TEST_P(Conformance, Softmax) {
  for (const Shape& shape :
       {Shape{1, 1, 1, 1}, Shape{7, 3, 1, 1}, Shape{1000, 2, 1, 1}, Shape{33, 2, 2, 1}}) {
    for (float scale : {1.0f, 0.125f, 10.0f}) {
      SCOPED_TRACE("SOFTMAX n=" + std::to_string(shape[0]) +
                   " rows=" + std::to_string(element_count(shape) / shape[0]) +
                   " scale=" + std::to_string(scale));
      auto x = normal_floats(rng_, element_count(shape), 4.0f);
      x[0] = 80.0f;  // exp(80 * scale) overflows float unless the max is subtracted first
      auto x_t = upload(HostTensor::f32(shape, 3, x));
      auto out = upload(HostTensor::output(shape, 3));
      auto op = make_op(HEARTH_OP_SOFTMAX, out.descriptor(), {x_t.descriptor()});
      op.fparams[0] = scale;
      check(op, out, softmax(x, shape, scale));
    }
  }
}

// ------------------------------------------------------------------ buffers

TEST_P(Conformance, BufferRoundTrip) {
  for (uint64_t bytes : {uint64_t{0}, uint64_t{1}, uint64_t{4097}}) {
    SCOPED_TRACE("bytes=" + std::to_string(bytes));
    std::vector<uint8_t> in(bytes), back(bytes, 0);
    for (auto& b : in) b = static_cast<uint8_t>(rng_());
    DeviceBuffer buffer(*device_, bytes);
    const auto& api = device_->api();
    EXPECT_TRUE(
        test::take(api.copy_to_device(device_->handle(), buffer.data(), in.data(), bytes)).ok());
    EXPECT_TRUE(
        test::take(api.copy_to_host(device_->handle(), back.data(), buffer.data(), bytes)).ok());
    EXPECT_TRUE(test::take(api.synchronize(device_->handle())).ok());
    EXPECT_EQ(in, back);
  }
}

// ------------------------------------------------------------------ bad input

TEST_P(Conformance, UnsupportedWeightDtypeIsAnsweredWithReason) {
  // Q8_K: 256 elements in 292 bytes, an activation format that no backend takes as a weight
  // (ggml has no Q8_K weights either).
  auto w = upload(HostTensor::raw(HEARTH_DTYPE_Q8_K, {256, 4, 1, 1}, 2, 292));
  auto x = upload(HostTensor::f32({256, 1, 1, 1}, 2, std::vector<float>(256, 1.0f)));
  auto out = upload(HostTensor::output({4, 1, 1, 1}, 2));
  const auto op = make_op(HEARTH_OP_MATMUL, out.descriptor(), {w.descriptor(), x.descriptor()});
  const auto support = device_->supports(op);
  EXPECT_EQ(support.code(), HEARTH_ERR_UNSUPPORTED) << support.message();
  EXPECT_THAT(support.message(), HasSubstr("MATMUL"));
  EXPECT_THAT(support.message(), HasSubstr("Q8_K"));
  EXPECT_EQ(device_->run(op).code(), HEARTH_ERR_UNSUPPORTED);
}

TEST_P(Conformance, UnsupportedActivationDtypeIsAnsweredWithReason) {
  auto a = upload(HostTensor::raw(HEARTH_DTYPE_F16, {8, 2, 1, 1}, 2, 16));
  auto b = upload(HostTensor::f32({8, 2, 1, 1}, 2, std::vector<float>(16, 1.0f)));
  auto out = upload(HostTensor::output({8, 2, 1, 1}, 2));
  const auto op = make_op(HEARTH_OP_ADD, out.descriptor(), {a.descriptor(), b.descriptor()});
  const auto support = device_->supports(op);
  EXPECT_EQ(support.code(), HEARTH_ERR_UNSUPPORTED) << support.message();
  EXPECT_THAT(support.message(), HasSubstr("ADD"));
  EXPECT_THAT(support.message(), HasSubstr("F16"));
}

TEST_P(Conformance, UnknownOpKindIsUnsupported) {
  auto x = upload(HostTensor::f32({4, 1, 1, 1}, 1, std::vector<float>(4, 1.0f)));
  auto op = make_op(HEARTH_OP_ADD, x.descriptor(), {x.descriptor(), x.descriptor()});
  // Through the bits: a C++ enum cannot hold 99 without undefined behaviour, a C host's can.
  const uint32_t unknown_kind = 99;
  std::memcpy(&op.kind, &unknown_kind, sizeof unknown_kind);
  const auto support = device_->supports(op);
  EXPECT_EQ(support.code(), HEARTH_ERR_UNSUPPORTED) << support.message();
  EXPECT_THAT(support.message(), HasSubstr("99"));
  EXPECT_EQ(device_->run(op).code(), HEARTH_ERR_UNSUPPORTED);
}

TEST_P(Conformance, MatmulShapeMismatchNamesTheShapes) {
  auto w = upload(HostTensor::weights(random_weights(rng_, HEARTH_DTYPE_F32, 64, 5)));
  auto x = upload(HostTensor::f32({48, 3, 1, 1}, 2, std::vector<float>(48 * 3, 1.0f)));
  auto out = upload(HostTensor::output({5, 3, 1, 1}, 2));
  const auto message =
      expect_refusal(make_op(HEARTH_OP_MATMUL, out.descriptor(), {w.descriptor(), x.descriptor()}),
                     HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(message, HasSubstr("MATMUL"));
  EXPECT_THAT(message, HasSubstr("64"));
  EXPECT_THAT(message, HasSubstr("48"));
}

TEST_P(Conformance, MatmulDstShapeMismatchIsRefused) {
  auto w = upload(HostTensor::weights(random_weights(rng_, HEARTH_DTYPE_F32, 16, 5)));
  auto x = upload(HostTensor::f32({16, 3, 1, 1}, 2, std::vector<float>(16 * 3, 1.0f)));
  auto out = upload(HostTensor::output({6, 3, 1, 1}, 2));
  const auto message =
      expect_refusal(make_op(HEARTH_OP_MATMUL, out.descriptor(), {w.descriptor(), x.descriptor()}),
                     HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(message, HasSubstr("6"));
}

TEST_P(Conformance, QuantizedRowsOfPartialBlocksAreRefused) {
  auto w = upload(HostTensor::raw(HEARTH_DTYPE_Q8_0, {48, 2, 1, 1}, 2, 68));
  auto x = upload(HostTensor::f32({48, 1, 1, 1}, 2, std::vector<float>(48, 1.0f)));
  auto out = upload(HostTensor::output({2, 1, 1, 1}, 2));
  const auto op = make_op(HEARTH_OP_MATMUL, out.descriptor(), {w.descriptor(), x.descriptor()});
  EXPECT_FALSE(device_->supports(op).ok());
  const auto status = device_->run(op);
  EXPECT_NE(status.code(), HEARTH_OK);
  EXPECT_THAT(status.message(), HasSubstr("48"));
}

TEST_P(Conformance, AttentionHeadsNotAMultipleAreRefused) {
  auto q = upload(HostTensor::f32({8, 6, 1, 1}, 3, std::vector<float>(48, 1.0f)));
  auto k = upload(HostTensor::f32({8, 4, 2, 1}, 3, std::vector<float>(64, 1.0f)));
  auto v = upload(HostTensor::f32({8, 4, 2, 1}, 3, std::vector<float>(64, 1.0f)));
  auto pq = upload(HostTensor::i32({1}));
  auto pk = upload(HostTensor::i32({0, 1}));
  auto out = upload(HostTensor::output({8, 6, 1, 1}, 3));
  auto op =
      make_op(HEARTH_OP_ATTENTION, out.descriptor(),
              {q.descriptor(), k.descriptor(), v.descriptor(), pq.descriptor(), pk.descriptor()});
  op.fparams[0] = 1.0f;
  const auto message = expect_refusal(op, HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(message, HasSubstr("6"));
  EXPECT_THAT(message, HasSubstr("4"));
}

TEST_P(Conformance, AttentionPositionCountMismatchIsRefused) {
  auto q = upload(HostTensor::f32({8, 2, 3, 1}, 3, std::vector<float>(48, 1.0f)));
  auto k = upload(HostTensor::f32({8, 1, 3, 1}, 3, std::vector<float>(24, 1.0f)));
  auto pq = upload(HostTensor::i32({0, 1}));  // 2 positions for 3 queries
  auto pk = upload(HostTensor::i32({0, 1, 2}));
  auto out = upload(HostTensor::output({8, 2, 3, 1}, 3));
  auto op =
      make_op(HEARTH_OP_ATTENTION, out.descriptor(),
              {q.descriptor(), k.descriptor(), k.descriptor(), pq.descriptor(), pk.descriptor()});
  op.fparams[0] = 1.0f;
  expect_refusal(op, HEARTH_ERR_INVALID_ARGUMENT);
}

TEST_P(Conformance, EmbeddingIdOutOfRangeIsRefused) {
  auto table = upload(HostTensor::weights(random_weights(rng_, HEARTH_DTYPE_F32, 8, 10)));
  auto ids = upload(HostTensor::i32({3, 10}));
  auto out = upload(HostTensor::output({8, 2, 1, 1}, 2));
  const auto op =
      make_op(HEARTH_OP_EMBEDDING, out.descriptor(), {table.descriptor(), ids.descriptor()});
  EXPECT_TRUE(device_->supports(op).ok()) << "the descriptors are fine; only the data is bad";
  const auto status = device_->run(op);
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT) << status.message();
  EXPECT_THAT(status.message(), HasSubstr("10"));
}

TEST_P(Conformance, RopeBadRotationCountIsRefused) {
  for (int n_rot : {3, 0, 10}) {
    SCOPED_TRACE("n_rot=" + std::to_string(n_rot));
    auto x = upload(HostTensor::f32({8, 1, 1, 1}, 3, std::vector<float>(8, 1.0f)));
    auto pos = upload(HostTensor::i32({0}));
    auto op = make_op(HEARTH_OP_ROPE, x.descriptor(), {x.descriptor(), pos.descriptor()});
    op.iparams[0] = n_rot;
    op.fparams[0] = 10000.0f;
    op.fparams[1] = 1.0f;
    const auto message = expect_refusal(op, HEARTH_ERR_INVALID_ARGUMENT);
    EXPECT_THAT(message, HasSubstr(std::to_string(n_rot)));
  }
}

TEST_P(Conformance, RopeUnknownModeIsUnsupported) {
  auto x = upload(HostTensor::f32({8, 1, 1, 1}, 3, std::vector<float>(8, 1.0f)));
  auto pos = upload(HostTensor::i32({0}));
  auto op = make_op(HEARTH_OP_ROPE, x.descriptor(), {x.descriptor(), pos.descriptor()});
  op.iparams[0] = 8;
  op.iparams[1] = 8;  // ggml's MROPE, not in the contract
  op.fparams[0] = 10000.0f;
  op.fparams[1] = 1.0f;
  const auto support = device_->supports(op);
  EXPECT_EQ(support.code(), HEARTH_ERR_UNSUPPORTED) << support.message();
  EXPECT_THAT(support.message(), HasSubstr("mode"));
}

TEST_P(Conformance, BroadcastMismatchNamesTheShapes) {
  auto a = upload(HostTensor::f32({8, 3, 1, 1}, 2, std::vector<float>(24, 1.0f)));
  auto b = upload(HostTensor::f32({8, 2, 1, 1}, 2, std::vector<float>(16, 1.0f)));
  for (hearth_op_kind kind : {HEARTH_OP_ADD, HEARTH_OP_MUL, HEARTH_OP_SWIGLU}) {
    SCOPED_TRACE("kind=" + std::to_string(kind));
    const auto message =
        expect_refusal(make_op(kind, a.descriptor(), {a.descriptor(), b.descriptor()}),
                       HEARTH_ERR_INVALID_ARGUMENT);
    EXPECT_THAT(message, HasSubstr("3"));
    EXPECT_THAT(message, HasSubstr("2"));
  }
}

TEST_P(Conformance, WrongSourceCountIsRefused) {
  auto a = upload(HostTensor::f32({8, 1, 1, 1}, 1, std::vector<float>(8, 1.0f)));
  auto op = make_op(HEARTH_OP_ADD, a.descriptor(), {a.descriptor()});
  expect_refusal(op, HEARTH_ERR_INVALID_ARGUMENT);
  op = make_op(HEARTH_OP_SWIGLU, a.descriptor(), {a.descriptor(), a.descriptor(), a.descriptor()});
  expect_refusal(op, HEARTH_ERR_INVALID_ARGUMENT);
}

TEST_P(Conformance, MissingDataIsRefused) {
  auto a = upload(HostTensor::f32({8, 1, 1, 1}, 1, std::vector<float>(8, 1.0f)));
  auto op = make_op(HEARTH_OP_ADD, a.descriptor(), {a.descriptor(), a.descriptor()});
  op.src[1].data = nullptr;
  const auto status = device_->run(op);
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT) << status.message();
}

INSTANTIATE_TEST_SUITE_P(Backends, Conformance, ::testing::Values("cpu", "cuda", "hip"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

}  // namespace
}  // namespace hearth::conformance
