// Strict reading of a policy's options: every value is checked where it is read, and finish()
// refuses any key no reader asked for, so a typo never silently falls back to a default.
#pragma once

#include <hearth/sdk/plugin.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::kv_policies {

class OptionReader {
 public:
  OptionReader(std::string policy, const hearth::sdk::Options& options);

  // A whole number in [min, max]; digits only (an optional leading '-'), nothing else.
  long long integer(std::string_view key, long long fallback, long long min, long long max);
  // A finite decimal number in [min, max] (strtod-style digits and exponent; no nan/inf).
  double number(std::string_view key, double fallback, double min, double max);
  // One of the accepted words.
  std::string word(std::string_view key, std::string fallback,
                   const std::vector<std::string>& accepted);
  // The raw text, for values with their own grammar; nullopt when absent.
  std::optional<std::string> text(std::string_view key);
  bool has(std::string_view key) const;

  // Throws naming every key that was given but never read, and the keys this policy accepts.
  void finish() const;

  // An INVALID_ARGUMENT error about key = value, saying what is accepted.
  [[noreturn]] void refuse(std::string_view key, std::string_view value,
                           std::string_view accepted) const;

 private:
  std::optional<std::string> take(std::string_view key);

  std::string policy_;
  std::vector<std::pair<std::string, std::string>> items_;
  std::vector<std::string> asked_;
};

// Shared by the policies' decide(): an error in this policy's name.
[[noreturn]] void fail(std::string_view policy, const std::string& message);

}  // namespace hearth::kv_policies
