#include "toml_reader.hpp"

#include <algorithm>
#include <charconv>

#include "did_you_mean.hpp"

namespace hearth::config_detail {

std::string_view toml_type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::none:
      return "nothing";
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
  }
  return "unknown";
}

SourceLocation to_location(const toml::source_region& region, const std::string& source_name) {
  return SourceLocation{source_name, static_cast<int>(region.begin.line),
                        static_cast<int>(region.begin.column)};
}

TableReader::TableReader(const toml::table& table, std::string path, std::string source_name)
    : table_(table), path_(std::move(path)), source_name_(std::move(source_name)) {}

std::string TableReader::key_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

SourceLocation TableReader::location() const { return location_of(table_); }

SourceLocation TableReader::location_of(const toml::node& node) const {
  return to_location(node.source(), source_name_);
}

SourceLocation TableReader::value_location(std::string_view key) const {
  const toml::node* node = find(key);
  return node ? location_of(*node) : location();
}

std::vector<std::pair<std::string_view, const toml::node*>> TableReader::entries() const {
  std::vector<std::pair<const toml::key*, const toml::node*>> written;
  for (const auto& [key, node] : table_) written.emplace_back(&key, &node);
  std::stable_sort(written.begin(), written.end(), [](const auto& a, const auto& b) {
    return a.first->source().begin < b.first->source().begin;
  });
  std::vector<std::pair<std::string_view, const toml::node*>> out;
  for (const auto& [key, node] : written) out.emplace_back(key->str(), node);
  return out;
}

void TableReader::reject_unknown_keys(std::span<const std::string_view> known,
                                      std::string_view what) const {
  for (const auto& [key, node] : entries()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string fix;
    if (auto suggestion = closest_match(key, known)) {
      fix = "did you mean '" + std::string(*suggestion) + "'?";
    } else {
      fix = "the keys of " + std::string(what) + " are ";
      for (size_t i = 0; i < known.size(); ++i) fix += (i ? ", " : "") + std::string(known[i]);
    }
    const auto& key_node = table_.find(key)->first;
    throw ConfigError(to_location(key_node.source(), source_name_), key_path(key),
                      "unknown key '" + std::string(key) + "' in " + std::string(what), fix);
  }
}

const toml::node* TableReader::find(std::string_view key) const { return table_.get(key); }

void TableReader::fail(const toml::node& at, std::string_view key, std::string problem,
                       std::string fix) const {
  throw ConfigError(location_of(at), key_path(key), std::move(problem), std::move(fix));
}

void TableReader::fail_type(const toml::node& at, std::string_view key, std::string_view expected,
                            std::string_view example) const {
  fail(at, key,
       "expected " + std::string(expected) + ", got " + std::string(toml_type_name(at.type())),
       "write it like " + std::string(example));
}

std::optional<std::string> TableReader::get_string(std::string_view key,
                                                   std::string_view example) const {
  const toml::node* node = find(key);
  if (!node) return std::nullopt;
  const auto* value = node->as_string();
  if (!value) fail_type(*node, key, "a string", example);
  return value->get();
}

std::optional<std::string> TableReader::get_nonempty_string(std::string_view key,
                                                            std::string_view example) const {
  auto value = get_string(key, example);
  if (value && value->empty())
    fail(*find(key), key, "'" + std::string(key) + "' is empty",
         "write it like " + std::string(example));
  return value;
}

std::optional<int64_t> TableReader::get_integer(std::string_view key,
                                                std::string_view example) const {
  const toml::node* node = find(key);
  if (!node) return std::nullopt;
  const auto* value = node->as_integer();
  if (!value) fail_type(*node, key, "an integer", example);
  return value->get();
}

std::optional<int64_t> TableReader::get_integer_in(std::string_view key, int64_t min, int64_t max,
                                                   std::string_view problem_if_outside,
                                                   std::string_view example) const {
  auto value = get_integer(key, example);
  if (value && (*value < min || *value > max))
    fail(*find(key), key,
         std::string(key) + " " + std::string(problem_if_outside) + ", got " +
             std::to_string(*value),
         "write it like " + std::string(example));
  return value;
}

std::string TableReader::stringify_scalar(std::string_view key, const toml::node& value) const {
  if (const auto* text = value.as_string()) return text->get();
  if (const auto* integer = value.as_integer()) return std::to_string(integer->get());
  if (const auto* boolean = value.as_boolean()) return boolean->get() ? "true" : "false";
  if (const auto* number = value.as_floating_point()) {
    char buffer[64];
    auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, number->get());
    if (error == std::errc{}) return std::string(buffer, end);
  }
  fail_type(value, key, "a string, a number or a boolean",
            std::string(key) + " = \"value\" or " + std::string(key) + " = 0.5");
}

}  // namespace hearth::config_detail
