#include "model/weights.hpp"

#include <hearth/error.hpp>

#include <cstring>

#include "model/tensor_ops.hpp"
#include "quantize/quantize_rows.hpp"
#include "quantize/tensor_type_choice.hpp"
#include "quantize/tensor_values.hpp"

namespace hearth::detail {
namespace {

std::string shape_text(const std::vector<int64_t>& ne) {
  std::string out = "[";
  for (size_t i = 0; i < ne.size(); ++i) out += (i ? ", " : "") + std::to_string(ne[i]);
  return out + "]";
}

std::string type_name(uint32_t type) {
  auto layout = gguf_builtin_type_layout(type);
  return layout ? layout->name : "type " + std::to_string(type);
}

}  // namespace

WeightLoader::WeightLoader(const GgufFile& file, const PluginRegistry& registry,
                           BackendDevice& device, const ModelOptions& options,
                           const std::string& weights, int64_t n_layer)
    : file_(file),
      registry_(registry),
      device_(device),
      options_(options),
      host_memory_(device.info().type == HEARTH_DEVICE_CPU),
      to_nf4_(weights == "nf4"),
      n_layer_(n_layer) {
  if (weights != "native" && weights != "nf4")
    throw Error(
        "weights = \"" + weights + "\" for " + device.info().name +
        " is not a known choice; use \"native\" (as stored) or \"nf4\" (converted at load)");
}

std::optional<hearth_dtype> WeightLoader::converted_type(const GgufTensorInfo& info) const {
  if (!to_nf4_) return std::nullopt;
  static const RecipeRule* const nf4 = [] {
    for (const auto& r : recipe_rules())
      if (r.name == "NF4") return &r;
    return static_cast<const RecipeRule*>(nullptr);
  }();
  const auto type = choose_type(*nf4, info.name, info.ne, n_layer_);
  if (!type || *type == info.type) return std::nullopt;
  return type;
}

DeviceTensor WeightLoader::place_quantized(std::vector<std::byte> bytes, hearth_tensor shape) {
  DeviceTensor out;
  if (host_memory_) {
    out.host_blocks = std::move(bytes);
    shape.data = out.host_blocks.data();
  } else {
    out.buffer = device_.alloc(bytes.size());
    device_.copy_to_device(out.buffer.data(), bytes.data(), bytes.size());
    shape.data = out.buffer.data();
  }
  out.t = shape;
  return out;
}

const GgufTensorInfo& WeightLoader::require(const std::string& name) const {
  const GgufTensorInfo* info = file_.tensor(name);
  if (!info)
    throw Error(file_.name() + ": tensor '" + name + "' is missing; the model is incomplete or " +
                "of an architecture variant Hearth does not know");
  return *info;
}

FormatPlugin WeightLoader::format_of(const GgufTensorInfo& info) const {
  auto format = registry_.format_for(info.type);
  if (!format)
    throw Error(file_.name() + ": tensor '" + info.name + "' is stored as " + type_name(info.type) +
                    " and no loaded format plugin knows that type; run `hearth plugins` to check "
                    "that format-gguf was found",
                HEARTH_ERR_UNSUPPORTED);
  return *format;
}

std::vector<float> WeightLoader::to_f32(const GgufTensorInfo& info) const {
  std::vector<float> out(static_cast<size_t>(info.n_elements()));
  if (info.type == HEARTH_DTYPE_F32) {
    std::memcpy(out.data(), info.data, out.size() * sizeof(float));
  } else {
    format_of(info).dequantize(info.type, info.data, out.data(), info.n_elements());
  }
  return out;
}

DeviceTensor WeightLoader::place(const void* data, uint64_t bytes, hearth_tensor shape) {
  DeviceTensor out;
  if (host_memory_) {
    shape.data = const_cast<void*>(data);  // used in place from the read-only mapping
  } else {
    out.buffer = device_.alloc(bytes);
    device_.copy_to_device(out.buffer.data(), data, bytes);
    shape.data = out.buffer.data();
  }
  out.t = shape;
  return out;
}

DeviceTensor WeightLoader::place_converted(std::vector<float> values, hearth_tensor shape) {
  DeviceTensor out;
  const uint64_t bytes = values.size() * sizeof(float);
  if (host_memory_) {
    out.host = std::move(values);
    shape.data = out.host.data();
  } else {
    out.buffer = device_.alloc(bytes);
    device_.copy_to_device(out.buffer.data(), values.data(), bytes);
    shape.data = out.buffer.data();
  }
  out.t = shape;
  return out;
}

DeviceTensor WeightLoader::matmul_weight(const std::string& name, int64_t n_in, int64_t n_out) {
  const GgufTensorInfo& info = require(name);
  if (info.ne.size() != 2 || info.ne[0] != n_in || info.ne[1] != n_out)
    throw Error(file_.name() + ": tensor '" + name + "' has shape " + shape_text(info.ne) +
                ", expected [" + std::to_string(n_in) + ", " + std::to_string(n_out) + "]");
  int64_t row_bytes = row_size(info.type, n_in);
  if (info.type == HEARTH_DTYPE_CS256) {
    // Variable-size rows (nb[] has no meaning): the format plugin checks every invariant of
    // the blob once here, so that kernels can trust it.
    format_of(info).validate(info.type, info.data, info.nbytes, n_out, n_in);
  } else if (row_bytes == 0) {
    auto format = format_of(info);
    const auto* type = format.find(info.type);
    row_bytes = n_in / type->block_elems * type->block_bytes;
  }
  hearth_tensor probe_x = make_tensor(nullptr, HEARTH_DTYPE_F32, {n_in, 1});
  hearth_tensor probe_y = make_tensor(nullptr, HEARTH_DTYPE_F32, {n_out, 1});
  if (const auto target = converted_type(info)) {
    auto format = registry_.format_for(*target);
    if (!format)
      throw Error("weights = \"nf4\" needs a format plugin for " + tensor_type_name(*target) +
                  " (format-nf4, format-gguf); run `hearth plugins` to check what was loaded");
    const auto* type = format->find(*target);
    const hearth_tensor converted =
        make_tensor(nullptr, *target, {n_in, n_out}, n_in / type->block_elems * type->block_bytes);
    if (!device_.unsupported_reason(op_matmul(probe_y, converted, probe_x))) {
      if (noted_types_.insert(*target).second && options_.notice)
        options_.notice(device_.info().name + std::string(": converting ") + type_name(info.type) +
                        " weights to " + tensor_type_name(*target) +
                        " at load (weights = \"nf4\")");
      const std::vector<float> values = to_f32(info);
      return place_quantized(quantize_rows(*format, *target, values.data(), n_out, n_in),
                             converted);
    }
    if (noted_types_.insert(*target).second && options_.notice)
      options_.notice(device_.info().name + std::string(" cannot multiply ") +
                      tensor_type_name(*target) + " weights; weights = \"nf4\" keeps " +
                      type_name(info.type) + " as stored");
  }
  hearth_tensor native = make_tensor(nullptr, info.type, {n_in, n_out}, row_bytes);
  auto reason = device_.unsupported_reason(op_matmul(probe_y, native, probe_x));
  if (!reason) return place(info.data, info.nbytes, native);

  if (noted_types_.insert(info.type).second && options_.notice)
    options_.notice("backend " + device_.backend_name() + " cannot multiply " +
                    type_name(info.type) + " weights (" + *reason +
                    "); converting them to F32 at load");
  return place_converted(to_f32(info), make_tensor(nullptr, HEARTH_DTYPE_F32, {n_in, n_out}));
}

DeviceTensor WeightLoader::vector(const std::string& name, int64_t n, bool required) {
  const GgufTensorInfo* info = file_.tensor(name);
  if (!info) {
    if (required) require(name);
    return {};
  }
  if (info->n_elements() != n)
    throw Error(file_.name() + ": tensor '" + name + "' has " + std::to_string(info->n_elements()) +
                " elements, expected " + std::to_string(n));
  hearth_tensor shape = make_tensor(nullptr, HEARTH_DTYPE_F32, {n});
  if (info->type == HEARTH_DTYPE_F32) return place(info->data, info->nbytes, shape);
  return place_converted(to_f32(*info), shape);
}

}  // namespace hearth::detail
