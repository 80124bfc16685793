// Reading one TOML table with checks: keys in the order written, unknown keys refused with a
// suggestion, typed getters whose errors name file:line:column and the key's full path.
#pragma once

#include <hearth/config.hpp>

#include <toml++/toml.h>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::config_detail {

// The word a message uses for a TOML type: "string", "integer", "float", "boolean", ...
std::string_view toml_type_name(toml::node_type type);

SourceLocation to_location(const toml::source_region& region, const std::string& source_name);

class TableReader {
 public:
  // path: the table's key path ("runtime", "device[1]", "device[1].kv"); empty for the root.
  TableReader(const toml::table& table, std::string path, std::string source_name);

  const toml::table& table() const { return table_; }
  const std::string& path() const { return path_; }
  const std::string& source_name() const { return source_name_; }
  std::string key_path(std::string_view key) const;
  SourceLocation location() const;
  SourceLocation location_of(const toml::node& node) const;
  // Where key's value was written; the table's location if key is absent.
  SourceLocation value_location(std::string_view key) const;

  // The table's entries in the order they were written.
  std::vector<std::pair<std::string_view, const toml::node*>> entries() const;

  // Throws for the first key, in source order, that is not in known. what: how a message names
  // this table ("[runtime]", "a [[device]] entry").
  void reject_unknown_keys(std::span<const std::string_view> known, std::string_view what) const;

  const toml::node* find(std::string_view key) const;

  // nullopt if the key is absent; throws if it has another type. example: a correct line for
  // the fix ("threads = 4").
  std::optional<std::string> get_string(std::string_view key, std::string_view example) const;
  std::optional<std::string> get_nonempty_string(std::string_view key,
                                                 std::string_view example) const;
  std::optional<int64_t> get_integer(std::string_view key, std::string_view example) const;
  // An integer in [min, max]; problem_if_outside words the complaint ("must be 0 or more").
  std::optional<int64_t> get_integer_in(std::string_view key, int64_t min, int64_t max,
                                        std::string_view problem_if_outside,
                                        std::string_view example) const;
  // A string, an integer, a float or a boolean, as text.
  std::string stringify_scalar(std::string_view key, const toml::node& value) const;

  [[noreturn]] void fail(const toml::node& at, std::string_view key, std::string problem,
                         std::string fix) const;
  [[noreturn]] void fail_type(const toml::node& at, std::string_view key, std::string_view expected,
                              std::string_view example) const;

 private:
  const toml::table& table_;
  std::string path_;
  std::string source_name_;
};

}  // namespace hearth::config_detail
