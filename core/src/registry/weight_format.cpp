#include <hearth/weight_format.hpp>

#include <hearth/error.hpp>

#include <cstddef>
#include <exception>

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

namespace {

// The ABI 1.3 members exist only when the plugin's struct is large enough to hold them.
template <class Member>
Member optional_member(const hearth_format_api& api, Member hearth_format_api::*member,
                       size_t end_offset) {
  return api.struct_size >= end_offset ? api.*member : nullptr;
}

}  // namespace

std::vector<std::byte> FormatPlugin::encode(
    hearth_dtype dtype, const float* src, int64_t n_rows, int64_t n_per_row,
    const float* importance,
    const std::vector<std::pair<std::string, std::string>>& options) const {
  const auto fn = optional_member(api(), &hearth_format_api::encode,
                                  offsetof(hearth_format_api, encode) + sizeof(api().encode));
  if (!fn)
    throw Error("format '" + name() + "' has no variable-size encoder (it predates ABI 1.3)",
                HEARTH_ERR_UNSUPPORTED);
  std::vector<hearth_option> c_options;
  for (const auto& [k, v] : options) c_options.push_back({k.c_str(), v.c_str()});
  std::vector<std::byte> out;
  hearth_byte_sink sink{&out, [](void* context, uint64_t bytes) -> void* {
                          auto* buffer = static_cast<std::vector<std::byte>*>(context);
                          try {
                            buffer->resize(static_cast<size_t>(bytes));
                          } catch (const std::exception&) {
                            return nullptr;
                          }
                          return buffer->data();
                        }};
  check_status(fn(plugin_->instance, dtype, src, n_rows, n_per_row, importance, c_options.data(),
                  c_options.size(), &sink),
               "format '" + name() + "' encoding");
  return out;
}

void FormatPlugin::validate(hearth_dtype dtype, const void* data, uint64_t bytes, int64_t n_rows,
                            int64_t n_per_row) const {
  const auto fn = optional_member(api(), &hearth_format_api::validate,
                                  offsetof(hearth_format_api, validate) + sizeof(api().validate));
  if (!fn)
    throw Error("format '" + name() + "' has no validator (it predates ABI 1.3)",
                HEARTH_ERR_UNSUPPORTED);
  check_status(fn(plugin_->instance, dtype, data, bytes, n_rows, n_per_row),
               "format '" + name() + "' validating");
}

}  // namespace hearth
