#include <hearth/error.hpp>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "value_syntax.hpp"

namespace hearth::config_detail {
namespace {

constexpr const char* kBudgetForms =
    "give a fraction of the full cache in (0, 1] (budget = 0.25), a percentage (\"25%\"), a size "
    "(\"512MiB\", \"2GB\") or a number of tokens (\"4096 tokens\")";

struct Unit {
  std::string_view name;
  KvBudget::Unit unit;
  double scale;
};

constexpr std::array kUnits{
    Unit{"b", KvBudget::Unit::bytes, 1.0},
    Unit{"byte", KvBudget::Unit::bytes, 1.0},
    Unit{"bytes", KvBudget::Unit::bytes, 1.0},
    Unit{"kb", KvBudget::Unit::bytes, 1e3},
    Unit{"mb", KvBudget::Unit::bytes, 1e6},
    Unit{"gb", KvBudget::Unit::bytes, 1e9},
    Unit{"tb", KvBudget::Unit::bytes, 1e12},
    Unit{"kib", KvBudget::Unit::bytes, 1024.0},
    Unit{"mib", KvBudget::Unit::bytes, 1024.0 * 1024.0},
    Unit{"gib", KvBudget::Unit::bytes, 1024.0 * 1024.0 * 1024.0},
    Unit{"tib", KvBudget::Unit::bytes, 1024.0 * 1024.0 * 1024.0 * 1024.0},
    Unit{"token", KvBudget::Unit::tokens, 1.0},
    Unit{"tokens", KvBudget::Unit::tokens, 1.0},
};

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

const Unit* find_unit(std::string_view name) {
  const std::string key = lowercase(name);
  for (const Unit& unit : kUnits)
    if (unit.name == key) return &unit;
  return nullptr;
}

}  // namespace

std::optional<Problem> check_budget_fraction(double fraction) {
  if (fraction > 0.0 && fraction <= 1.0) return std::nullopt;
  char text[32];
  std::snprintf(text, sizeof text, "%g", fraction);
  return Problem{std::string("budget ") + text + " is not a fraction in (0, 1]", kBudgetForms};
}

std::optional<Problem> parse_kv_budget_text(std::string_view text, KvBudget& out) {
  const std::string_view spec = trim(text);
  size_t number_end = 0;
  while (number_end < spec.size() &&
         ((spec[number_end] >= '0' && spec[number_end] <= '9') || spec[number_end] == '.'))
    ++number_end;
  const std::string_view number_text = spec.substr(0, number_end);
  const std::string_view unit_text = trim(spec.substr(number_end));
  double number = 0.0;
  const auto [end, error] =
      std::from_chars(number_text.data(), number_text.data() + number_text.size(), number);
  if (number_text.empty() || error != std::errc{} || end != number_text.data() + number_text.size())
    return Problem{"\"" + std::string(text) + "\" is not a KV budget", kBudgetForms};

  if (unit_text == "%") {
    if (auto problem = check_budget_fraction(number / 100.0)) {
      problem->what = "budget \"" + std::string(text) + "\" is not a percentage in (0, 100]";
      return problem;
    }
    out = KvBudget{};
    out.fraction = number / 100.0;
    return std::nullopt;
  }
  const Unit* unit = find_unit(unit_text);
  if (!unit) {
    if (unit_text.empty())
      return Problem{"budget \"" + std::string(text) + "\" has no unit",
                     "write the unit: \"" + std::string(spec) + "MiB\", \"" + std::string(spec) +
                         " tokens\"; or a fraction as a number without quotes"};
    return Problem{
        "unknown unit '" + std::string(unit_text) + "' in budget \"" + std::string(text) + "\"",
        "use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB, tokens or %"};
  }
  const double amount = number * unit->scale;
  const char* what = unit->unit == KvBudget::Unit::tokens ? "tokens" : "bytes";
  if (amount < 1.0 || amount != std::floor(amount) || amount > 9.0e18)
    return Problem{
        "budget \"" + std::string(text) + "\" is not a whole number of " + what + " (at least 1)",
        kBudgetForms};
  out = KvBudget{};
  out.unit = unit->unit;
  out.amount = static_cast<uint64_t>(amount);
  return std::nullopt;
}

}  // namespace hearth::config_detail

namespace hearth {

KvBudget parse_kv_budget(std::string_view text) {
  KvBudget out;
  const std::string_view spec = config_detail::trim(text);
  double number = 0.0;
  const auto [end, error] = std::from_chars(spec.data(), spec.data() + spec.size(), number);
  if (!spec.empty() && error == std::errc{} && end == spec.data() + spec.size()) {
    if (auto problem = config_detail::check_budget_fraction(number))
      throw Error(problem->what + ": " + problem->fix);
    out.fraction = number;
    return out;
  }
  if (auto problem = config_detail::parse_kv_budget_text(text, out))
    throw Error(problem->what + ": " + problem->fix);
  return out;
}

std::string KvBudget::to_string() const {
  switch (unit) {
    case Unit::fraction: {
      char text[32];
      std::snprintf(text, sizeof text, "%g", fraction);
      return text;
    }
    case Unit::bytes:
      return std::to_string(amount) + " bytes";
    case Unit::tokens:
      return std::to_string(amount) + " tokens";
  }
  return "?";
}

}  // namespace hearth
