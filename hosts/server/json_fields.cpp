#include "server/json_fields.hpp"

#include <cmath>
#include <sstream>

#include "server/api_error.hpp"

namespace hearth::server {

nlohmann::json parse_body(const std::string& body) {
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    throw ApiError(400, "the request body is not valid JSON (" + std::string(e.what()) +
                            "); send a JSON object");
  }
  if (!parsed.is_object())
    throw ApiError(400,
                   "the request body must be a JSON object, not " + describe_json_type(parsed));
  return parsed;
}

std::string describe_json_type(const nlohmann::json& value) {
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "null";
}

JsonFields::JsonFields(const nlohmann::json& object, std::string prefix)
    : object_(object), prefix_(std::move(prefix)) {}

const nlohmann::json* JsonFields::find(const std::string& key) const {
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

void JsonFields::wrong_type(const std::string& key, const char* expected) const {
  throw ApiError(400,
                 "'" + name(key) + "' must be " + expected + ", not " +
                     describe_json_type(*find(key)) + " (" + find(key)->dump() + ")",
                 name(key), "invalid_type");
}

namespace {
std::string number_text(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}
}  // namespace

std::optional<double> JsonFields::number(const std::string& key, double min, double max) const {
  const auto* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) wrong_type(key, "a number");
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < min || x > max)
    throw ApiError(400,
                   "'" + name(key) + "' is " + number_text(x) + "; it must be between " +
                       number_text(min) + " and " + number_text(max),
                   name(key), "invalid_value");
  return x;
}

std::optional<int64_t> JsonFields::integer(const std::string& key, int64_t min, int64_t max) const {
  const auto* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) wrong_type(key, "an integer");
  // Unsigned values above INT64_MAX count as out of range, not as wrapped negatives.
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    throw ApiError(
        400, "'" + name(key) + "' is " + v->dump() + "; it must be at most " + std::to_string(max),
        name(key), "invalid_value");
  const int64_t x = v->get<int64_t>();
  if (x < min || x > max)
    throw ApiError(400,
                   "'" + name(key) + "' is " + std::to_string(x) + "; it must be between " +
                       std::to_string(min) + " and " + std::to_string(max),
                   name(key), "invalid_value");
  return x;
}

std::optional<bool> JsonFields::boolean(const std::string& key) const {
  const auto* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) wrong_type(key, "true or false");
  return v->get<bool>();
}

std::optional<std::string> JsonFields::string(const std::string& key) const {
  const auto* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) wrong_type(key, "a string");
  return v->get<std::string>();
}

std::vector<std::string> JsonFields::strings(const std::string& key, size_t max_items) const {
  const auto* v = find(key);
  if (!v) return {};
  if (v->is_string()) return {v->get<std::string>()};
  if (!v->is_array()) wrong_type(key, "a string or an array of strings");
  if (v->size() > max_items)
    throw ApiError(400,
                   "'" + name(key) + "' has " + std::to_string(v->size()) + " entries; at most " +
                       std::to_string(max_items) + " are allowed",
                   name(key), "invalid_value");
  std::vector<std::string> out;
  for (const auto& item : *v) {
    if (!item.is_string()) wrong_type(key, "a string or an array of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

const nlohmann::json* JsonFields::object(const std::string& key) const {
  const auto* v = find(key);
  if (v && !v->is_object()) wrong_type(key, "an object");
  return v;
}

const nlohmann::json* JsonFields::array(const std::string& key) const {
  const auto* v = find(key);
  if (v && !v->is_array()) wrong_type(key, "an array");
  return v;
}

}  // namespace hearth::server
