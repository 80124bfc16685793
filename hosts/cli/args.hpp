// A small command-line parser: declared options with help text, typed values, and errors that
// name the option and suggest the closest known one.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hearth::cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Args {
 public:
  Args(std::string command, std::string summary);

  // A flag without a value (--json) or an option with one (-m FILE / --model FILE / --model=FILE).
  Args& flag(const std::string& long_name, const std::string& short_name, const std::string& help);
  Args& option(const std::string& long_name, const std::string& short_name,
               const std::string& value_name, const std::string& help,
               std::optional<std::string> fallback = std::nullopt);
  Args& positional(const std::string& name, const std::string& help, bool required = true);

  // Throws UsageError; returns false when --help was printed.
  bool parse(const std::vector<std::string>& argv);

  bool has(const std::string& long_name) const;
  std::string get(const std::string& long_name) const;  // throws if absent and no fallback
  std::optional<std::string> find(const std::string& long_name) const;
  long long get_int(const std::string& long_name) const;
  double get_double(const std::string& long_name) const;
  const std::vector<std::string>& positionals() const { return positional_values_; }
  std::string help() const;

 private:
  struct Spec {
    std::string long_name, short_name, value_name, help;
    bool takes_value = false;
    std::optional<std::string> fallback;
  };
  struct Positional {
    std::string name, help;
    bool required;
  };
  const Spec* lookup(const std::string& token) const;
  std::string command_, summary_;
  std::vector<Spec> specs_;
  std::vector<Positional> positionals_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_values_;
};

// Damerau-Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace hearth::cli
