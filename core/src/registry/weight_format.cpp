#include <hearth/weight_format.hpp>

#include "registry/host_context.hpp"

namespace hearth {

FormatPlugin::FormatPlugin(std::shared_ptr<detail::LoadedPlugin> plugin)
    : plugin_(std::move(plugin)) {
  const uint32_t n = api().type_count(plugin_->instance);
  for (uint32_t i = 0; i < n; ++i) {
    hearth_format_type type{};
    type.struct_size = sizeof(type);
    check_status(api().type_info(plugin_->instance, i, &type),
                 "format '" + name() + "' type " + std::to_string(i));
    type.name[sizeof(type.name) - 1] = '\0';
    types_.push_back(type);
  }
}

const PluginInfo& FormatPlugin::info() const { return plugin_->info; }

const hearth_format_api& FormatPlugin::api() const {
  return *static_cast<const hearth_format_api*>(plugin_->descriptor->api);
}

const hearth_format_type* FormatPlugin::find(hearth_dtype dtype) const {
  for (const auto& t : types_)
    if (t.dtype == dtype) return &t;
  return nullptr;
}

const hearth_format_type* FormatPlugin::find(std::string_view type_name) const {
  for (const auto& t : types_)
    if (type_name == t.name) return &t;
  return nullptr;
}

void FormatPlugin::dequantize(hearth_dtype dtype, const void* src, float* dst,
                              int64_t n_elems) const {
  check_status(api().dequantize(plugin_->instance, dtype, src, dst, n_elems),
               "format '" + name() + "' dequantizing");
}

void FormatPlugin::quantize(hearth_dtype dtype, const float* src, void* dst, int64_t n_rows,
                            int64_t n_per_row, const float* importance) const {
  check_status(
      api().quantize(plugin_->instance, dtype, src, dst, n_rows, n_per_row, importance),
      "format '" + name() + "' quantizing");
}

}  // namespace hearth
