// Token importance estimators. All per-token data lives in the slot's stats (core moves stats
// with the slot when it compacts), so an estimator holds only its configuration and one session
// can serve every (layer, KV head).
#pragma once

#include "option_reader.hpp"

#include <hearth/sdk/abi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hearth::kv_policies {

class ImportanceEstimator {
 public:
  virtual ~ImportanceEstimator() = default;
  virtual uint32_t stats_per_slot() const = 0;
  // Folds one observe() call into view.stats (view already checked).
  virtual void observe(const hearth_kv_view& view, const float* attention_mass,
                       uint32_t n_query_rows) const = 0;
  // One importance per slot; larger is more important.
  virtual std::vector<double> scores(const hearth_kv_view& view) const = 0;
};

// H2O (spec §2): the attention mass a slot received since it entered the cache, summed over the
// query heads of the GQA group (core already sums them). One stat: the running sum.
class AccumulatedMass final : public ImportanceEstimator {
 public:
  explicit AccumulatedMass(std::string policy) : policy_(std::move(policy)) {}
  uint32_t stats_per_slot() const override { return 1; }
  void observe(const hearth_kv_view& view, const float* attention_mass,
               uint32_t n_query_rows) const override;
  std::vector<double> scores(const hearth_kv_view& view) const override;

 private:
  std::string policy_;
};

// Seed 003's bias-corrected importance (spec §5.1/5.2): I_j = S_j / c_j with
// S_j = sum over the accumulated rows of m * A[row][j] / n_query_heads, m = slots visible to the
// row, c_j = rows accumulated. Uniform attention gives every term exactly 1.
class BiasCorrected final : public ImportanceEstimator {
 public:
  enum class Forget { ring, ema };
  BiasCorrected(std::string policy, uint32_t window, Forget forget);
  // Reads `window` and `forget`.
  static std::unique_ptr<BiasCorrected> from_options(const std::string& policy,
                                                     OptionReader& options);

  uint32_t stats_per_slot() const override;
  void observe(const hearth_kv_view& view, const float* attention_mass,
               uint32_t n_query_rows) const override;
  std::vector<double> scores(const hearth_kv_view& view) const override;

  uint32_t window() const { return window_; }
  Forget forget() const { return forget_; }

 private:
  std::string policy_;
  uint32_t window_;
  Forget forget_;
};

// Rejects a negative or non-finite mass for a slot (it would poison every later decision).
void check_mass(std::string_view policy, const hearth_kv_view& view, const float* attention_mass);

}  // namespace hearth::kv_policies
