#include "option_reader.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

namespace hearth::kv_policies {

namespace {

std::string format_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string join(const std::vector<std::string>& words, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += separator;
    out += words[i];
  }
  return out;
}

}  // namespace

void fail(std::string_view policy, const std::string& message) {
  throw hearth::sdk::PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                                 "kv policy '" + std::string(policy) + "': " + message);
}

OptionReader::OptionReader(std::string policy, const hearth::sdk::Options& options)
    : policy_(std::move(policy)), items_(options.items()) {
  for (size_t i = 0; i < items_.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (items_[i].first == items_[j].first)
        fail(policy_, "option '" + items_[i].first + "' is given twice ('" + items_[j].second +
                          "' and '" + items_[i].second + "'); give it once");
}

bool OptionReader::has(std::string_view key) const {
  return std::any_of(items_.begin(), items_.end(), [&](const auto& kv) { return kv.first == key; });
}

std::optional<std::string> OptionReader::take(std::string_view key) {
  asked_.emplace_back(key);
  for (const auto& [k, v] : items_)
    if (k == key) return v;
  return std::nullopt;
}

void OptionReader::refuse(std::string_view key, std::string_view value,
                          std::string_view accepted) const {
  fail(policy_, "option '" + std::string(key) + "' = '" + std::string(value) +
                    "' is not accepted; expected " + std::string(accepted));
}

long long OptionReader::integer(std::string_view key, long long fallback, long long min,
                                long long max) {
  const std::string accepted =
      "a whole number in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  auto value = take(key);
  if (!value) return fallback;
  long long out = 0;
  const char* begin = value->data();
  const char* end = begin + value->size();
  auto [stop, ec] = std::from_chars(begin, end, out);
  if (value->empty() || ec != std::errc() || stop != end || out < min || out > max)
    refuse(key, *value, accepted);
  return out;
}

double OptionReader::number(std::string_view key, double fallback, double min, double max) {
  const std::string accepted =
      "a decimal number in [" + format_number(min) + ", " + format_number(max) + "]";
  auto value = take(key);
  if (!value) return fallback;
  double out = 0;
  const char* begin = value->data();
  const char* end = begin + value->size();
  // from_chars takes no sign, spaces or hex prefix, and reports partial parses: strict by design.
  auto [stop, ec] = std::from_chars(begin, end, out, std::chars_format::general);
  if (value->empty() || ec != std::errc() || stop != end || !std::isfinite(out) || out < min ||
      out > max)
    refuse(key, *value, accepted);
  return out;
}

std::string OptionReader::word(std::string_view key, std::string fallback,
                               const std::vector<std::string>& accepted) {
  auto value = take(key);
  if (!value) return fallback;
  if (std::find(accepted.begin(), accepted.end(), *value) == accepted.end())
    refuse(key, *value, "one of: " + join(accepted, ", "));
  return *value;
}

std::optional<std::string> OptionReader::text(std::string_view key) { return take(key); }

void OptionReader::finish() const {
  std::vector<std::string> unknown;
  for (const auto& [k, v] : items_)
    if (std::find(asked_.begin(), asked_.end(), k) == asked_.end())
      unknown.push_back("'" + k + "' = '" + v + "'");
  if (unknown.empty()) return;
  std::vector<std::string> accepted = asked_;
  std::sort(accepted.begin(), accepted.end());
  accepted.erase(std::unique(accepted.begin(), accepted.end()), accepted.end());
  fail(policy_, "unknown option " + join(unknown, ", ") + "; this policy accepts " +
                    (accepted.empty() ? std::string("no options") : join(accepted, ", ")));
}

}  // namespace hearth::kv_policies
