// Typed reading of a request's JSON fields. A field that is absent or null is "not given"; one of
// the wrong type or out of range is an ApiError 400 naming the field, the expectation and what
// was sent.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hearth::server {

// Parses a request body; throws ApiError 400 saying where the JSON is broken, or that it is not
// an object.
nlohmann::json parse_body(const std::string& body);

class JsonFields {
 public:
  // prefix names the object in messages ("options." for Ollama's options).
  explicit JsonFields(const nlohmann::json& object, std::string prefix = {});

  std::optional<double> number(const std::string& key, double min, double max) const;
  std::optional<int64_t> integer(const std::string& key, int64_t min, int64_t max) const;
  std::optional<bool> boolean(const std::string& key) const;
  std::optional<std::string> string(const std::string& key) const;
  // A string or an array of at most max_items strings.
  std::vector<std::string> strings(const std::string& key, size_t max_items) const;
  // nullptr when not given.
  const nlohmann::json* object(const std::string& key) const;
  const nlohmann::json* array(const std::string& key) const;
  const nlohmann::json* find(const std::string& key) const;
  std::string name(const std::string& key) const { return prefix_ + key; }

 private:
  [[noreturn]] void wrong_type(const std::string& key, const char* expected) const;
  const nlohmann::json& object_;
  std::string prefix_;
};

// "a string", "a number", ... for messages.
std::string describe_json_type(const nlohmann::json& value);

}  // namespace hearth::server
