#include <charconv>

#include "value_syntax.hpp"

namespace hearth::config_detail {
namespace {

constexpr const char* kLayerForms =
    "use \"all\", \"rest\", \"none\", one layer \"N\" or an inclusive range \"A-B\" (layers count "
    "from 0), or gpu_layers = N for a number of layers";

bool is_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

// nullopt when text is not a layer number that fits an int.
std::optional<int> parse_layer_number(std::string_view text) {
  if (!is_digits(text)) return std::nullopt;
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::optional<Problem> parse_layer_spec(std::string_view text, LayerSpec& out) {
  const std::string_view spec = trim(text);
  if (spec == "all" || spec == "rest" || spec == "none") {
    out = LayerSpec{};
    out.kind = spec == "all"    ? LayerSpec::Kind::all
               : spec == "rest" ? LayerSpec::Kind::rest
                                : LayerSpec::Kind::none;
    return std::nullopt;
  }
  const size_t dash = spec.find('-');
  const std::string_view first_text = trim(spec.substr(0, dash));
  const std::string_view last_text =
      dash == std::string_view::npos ? first_text : trim(spec.substr(dash + 1));
  const auto first = parse_layer_number(first_text);
  const auto last = parse_layer_number(last_text);
  if (!first || !last)
    return Problem{"\"" + std::string(text) + "\" is not a layer spec", kLayerForms};
  if (*first > *last)
    return Problem{
        "layer range " + std::to_string(*first) + "-" + std::to_string(*last) + " runs backwards",
        "write the lower layer first: \"" + std::to_string(*last) + "-" + std::to_string(*first) +
            "\""};
  out = LayerSpec{};
  out.kind = LayerSpec::Kind::range;
  out.first = *first;
  out.last = *last;
  return std::nullopt;
}

}  // namespace hearth::config_detail

namespace hearth {

std::string LayerSpec::to_string() const {
  switch (kind) {
    case Kind::all:
      return "all";
    case Kind::rest:
      return "rest";
    case Kind::none:
      return "none";
    case Kind::range:
      return first == last ? std::to_string(first)
                           : std::to_string(first) + "-" + std::to_string(last);
    case Kind::count:
      return "gpu_layers = " + std::to_string(count);
  }
  return "?";
}

}  // namespace hearth
