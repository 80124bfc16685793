// The pruner: which weights a CS256 matrix keeps (cs256.md §4, steps 1-5, with |w| or Wanda's
// |w| * ||x|| as the saliency instead of SparseGPT's OBS score).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <numeric>
#include <string>
#include <thread>

#include "cs256_blob.hpp"
#include "cs256_codec.hpp"

namespace hearth::format_cs256 {

using sdk::PluginError;

EncodeOptions parse_encode_options(const sdk::Options& options) {
  EncodeOptions out;
  for (const auto& [key, value] : options.items()) {
    if (key != "sparsity" && key != "values" && key != "vec")
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT, "format cs256: unknown option '" + key +
                                                         "' (known: sparsity, values, vec)");
  }
  if (options.get("sparsity")) {
    const double s = options.get_double("sparsity", 0.0);
    if (!(s >= 0.0 && s < 1.0))
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        "format cs256: sparsity " + *options.get("sparsity") +
                            " is outside [0, 1); give the fraction of weights to drop, e.g. 0.66");
    out.sparsity = s;
  }
  const std::string values = options.get_string("values", "f16");
  if (values == "f16")
    out.values = HEARTH_DTYPE_F16;
  else if (values == "bf16")
    out.values = HEARTH_DTYPE_BF16;
  else if (values == "int8")
    out.values = HEARTH_DTYPE_I8;
  else
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      "format cs256: values '" + values + "' is not one of f16, bf16, int8");
  const long long vec = options.get_int("vec", 8);
  if (vec != 4 && vec != 8 && vec != 16)
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      "format cs256: vec " + std::to_string(vec) + " is not one of 4, 8, 16");
  out.vec = static_cast<int>(vec);
  return out;
}

namespace {

struct Group {
  double score;  // sum of the group's vec scores
  int64_t row;
  int64_t rank;  // the group's place in its tile's sorted order
};

}  // namespace

std::vector<uint8_t> select_kept(const float* w, int64_t rows, int64_t cols,
                                 const float* importance, double sparsity, int vec) {
  std::vector<uint8_t> kept(static_cast<size_t>(rows * cols), 0);
  const int64_t n_tiles = blocks_per_row(cols);
  // Tiles compete only within themselves and mark disjoint columns, so threads take whole tiles:
  // the result does not depend on the thread count (a 7B model is ~6.5e9 weights to sort).
  auto prune_tiles = [&](std::atomic<int64_t>& next) {
    std::vector<int64_t> order;
    std::vector<double> scores;
    std::vector<Group> groups;
    // Per row, the tile's columns sorted by descending score (kept for the marking pass).
    std::vector<std::vector<int64_t>> sorted(static_cast<size_t>(rows));
    for (int64_t t = next++; t < n_tiles; t = next++) {
      const int64_t c0 = t * kTile;
      const int64_t width = tile_width(cols, t);
      // A tile never keeps all 256 weights (its count must fit uint8), nor a partial group.
      const int64_t max_groups = std::min(width / vec, kMaxNarrowCount / vec);
      groups.clear();
      for (int64_t i = 0; i < rows; ++i) {
        const float* row = w + i * cols + c0;
        scores.assign(static_cast<size_t>(width), 0.0);
        for (int64_t c = 0; c < width; ++c) {
          const double a = std::fabs(static_cast<double>(row[c]));
          scores[static_cast<size_t>(c)] = importance ? a * std::fabs(importance[c0 + c]) : a;
        }
        auto& ord = sorted[static_cast<size_t>(i)];
        ord.resize(static_cast<size_t>(width));
        std::iota(ord.begin(), ord.end(), int64_t{0});
        // Ties broken by column, so the result does not depend on the sort's stability.
        std::sort(ord.begin(), ord.end(), [&](int64_t a, int64_t b) {
          const double sa = scores[static_cast<size_t>(a)], sb = scores[static_cast<size_t>(b)];
          return sa != sb ? sa > sb : a < b;
        });
        for (int64_t g = 0; g < max_groups; ++g) {
          double sum = 0;
          for (int64_t k = 0; k < vec; ++k)
            sum += scores[static_cast<size_t>(ord[static_cast<size_t>(g * vec + k)])];
          groups.push_back({sum, i, g});
        }
      }
      const double budget = std::floor(static_cast<double>(rows * width) * (1.0 - sparsity));
      const auto keep_groups = std::min<int64_t>(static_cast<int64_t>(budget) / vec,
                                                 static_cast<int64_t>(groups.size()));
      // Within a tile group scores never increase, so ranking by (score, then rank) keeps a
      // prefix of every tile's groups.
      std::partial_sort(groups.begin(), groups.begin() + keep_groups, groups.end(),
                        [](const Group& a, const Group& b) {
                          if (a.score != b.score) return a.score > b.score;
                          if (a.rank != b.rank) return a.rank < b.rank;
                          return a.row < b.row;
                        });
      for (int64_t g = 0; g < keep_groups; ++g) {
        const Group& group = groups[static_cast<size_t>(g)];
        const auto& ord = sorted[static_cast<size_t>(group.row)];
        for (int64_t k = 0; k < vec; ++k)
          kept[static_cast<size_t>(group.row * cols + c0 +
                                   ord[static_cast<size_t>(group.rank * vec + k)])] = 1;
      }
    }
  };
  std::atomic<int64_t> next{0};
  const auto n_threads = static_cast<int64_t>(
      std::clamp<int64_t>(std::min<int64_t>(std::thread::hardware_concurrency(), n_tiles), 1, 64));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n_threads));
  {
    std::vector<std::jthread> workers;
    for (int64_t i = 1; i < n_threads; ++i)
      workers.emplace_back([&, i] {
        try {
          prune_tiles(next);
        } catch (...) {
          errors[static_cast<size_t>(i)] = std::current_exception();
        }
      });
    try {
      prune_tiles(next);
    } catch (...) {
      errors[0] = std::current_exception();
    }
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  return kept;
}

}  // namespace hearth::format_cs256
