// C++ view of a weight-format plugin: block layouts and the reference (de)quantizers.
#pragma once

#include <hearth/plugin_info.hpp>
#include <hearth/sdk/abi.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hearth {

namespace detail {
struct LoadedPlugin;
}

class FormatPlugin {
 public:
  explicit FormatPlugin(std::shared_ptr<detail::LoadedPlugin> plugin);
  const PluginInfo& info() const;
  const std::string& name() const { return info().name; }
  const std::vector<hearth_format_type>& types() const { return types_; }
  const hearth_format_type* find(hearth_dtype dtype) const;
  const hearth_format_type* find(std::string_view type_name) const;
  void dequantize(hearth_dtype dtype, const void* src, float* dst, int64_t n_elems) const;
  void quantize(hearth_dtype dtype, const float* src, void* dst, int64_t n_rows,
                int64_t n_per_row, const float* importance = nullptr) const;
  // Variable-size types (block_bytes == 0, e.g. CS256). Both throw hearth::Error with code
  // HEARTH_ERR_UNSUPPORTED when the plugin predates them (ABI < 1.3) or lacks them.
  std::vector<std::byte> encode(
      hearth_dtype dtype, const float* src, int64_t n_rows, int64_t n_per_row,
      const float* importance,
      const std::vector<std::pair<std::string, std::string>>& options) const;
  void validate(hearth_dtype dtype, const void* data, uint64_t bytes, int64_t n_rows,
                int64_t n_per_row) const;

 private:
  const hearth_format_api& api() const;
  std::shared_ptr<detail::LoadedPlugin> plugin_;
  std::vector<hearth_format_type> types_;
};

}  // namespace hearth
