// Python's json.dumps on template values: what transformers' tojson filter returns.
#pragma once

#include "jinja/value.hpp"

#include <optional>
#include <string>

namespace hearth::jinja {

struct JsonFormat {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // nullopt: one line
  std::string item_separator = ", ";  // json.dumps uses "," when indenting
  std::string key_separator = ": ";
  bool sort_keys = false;
};

// Raises TypeError "Object of type X is not JSON serializable" for Undefined, iterators...
std::string dump_json(const Value& value, const JsonFormat& format);

}  // namespace hearth::jinja
