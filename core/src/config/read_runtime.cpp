#include <array>
#include <climits>

#include "sections.hpp"

namespace hearth::config_detail {
namespace {

constexpr std::array<std::string_view, 5> kRuntimeKeys{"plugin_path", "threads", "context", "batch",
                                                       "seed"};

std::vector<std::filesystem::path> read_plugin_path(const TableReader& runtime,
                                                    const std::filesystem::path& base_dir) {
  constexpr std::string_view key = "plugin_path";
  constexpr std::string_view example = "plugin_path = [\"lib/hearth/plugins\"]";
  const toml::node* node = runtime.find(key);
  if (!node) return {};
  std::vector<const toml::node*> items;
  if (node->is_string()) {
    items.push_back(node);
  } else if (const auto* array = node->as_array()) {
    for (const toml::node& item : *array) items.push_back(&item);
  } else {
    runtime.fail_type(*node, key, "a string or an array of strings", example);
  }
  std::vector<std::filesystem::path> out;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string item_key =
        node->is_array() ? std::string(key) + "[" + std::to_string(i) + "]" : std::string(key);
    const auto* text = items[i]->as_string();
    if (!text) runtime.fail_type(*items[i], item_key, "a string", example);
    if (text->get().empty())
      runtime.fail(*items[i], item_key, "an empty plugin directory",
                   "remove it, or write a directory like \"lib/hearth/plugins\"");
    std::filesystem::path dir(text->get());
    if (dir.is_relative() && !base_dir.empty()) dir = (base_dir / dir).lexically_normal();
    out.push_back(std::move(dir));
  }
  return out;
}

}  // namespace

RuntimeConfig read_runtime(const TableReader& runtime, const std::filesystem::path& base_dir) {
  runtime.reject_unknown_keys(kRuntimeKeys, "[runtime]");
  RuntimeConfig out;
  out.plugin_path = read_plugin_path(runtime, base_dir);
  if (auto threads = runtime.get_integer_in(
          "threads", 0, INT_MAX, "must be 0 (one per physical core) or more", "threads = 8"))
    out.threads = static_cast<int>(*threads);
  if (auto context = runtime.get_integer_in(
          "context", 0, INT64_MAX, "must be 0 (the model's context) or more", "context = 4096"))
    out.context = *context;
  if (auto batch =
          runtime.get_integer_in("batch", 1, INT64_MAX, "must be 1 or more", "batch = 512"))
    out.batch = *batch;
  if (auto seed = runtime.get_integer_in(
          "seed", -1, INT64_MAX, "must be -1 (the default) or a seed of 0 or more", "seed = 42"))
    out.seed = *seed;
  return out;
}

}  // namespace hearth::config_detail
