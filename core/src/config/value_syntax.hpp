// The small languages inside config strings: layer specs ("0-23") and KV budgets ("512MiB").
#pragma once

#include <hearth/config.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace hearth::config_detail {

// Why a value was refused, and what to write instead.
struct Problem {
  std::string what;
  std::string fix;
};

// "all", "rest", "none", "N" or "A-B" (inclusive; spaces around '-' allowed).
std::optional<Problem> parse_layer_spec(std::string_view text, LayerSpec& out);

// A fraction in (0, 1] as a float.
std::optional<Problem> check_budget_fraction(double fraction);

// "25%", "512MiB", "1.5 GB", "100000 B", "4096 tokens". KB/MB/GB/TB are powers of 1000,
// KiB/MiB/GiB/TiB powers of 1024; units ignore case.
std::optional<Problem> parse_kv_budget_text(std::string_view text, KvBudget& out);

std::string_view trim(std::string_view text);

}  // namespace hearth::config_detail
