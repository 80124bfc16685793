#include "model/weights.hpp"

#include <hearth/error.hpp>

#include <cstring>

#include "model/tensor_ops.hpp"

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
                           BackendDevice& device, const ModelOptions& options)
    : file_(file),
      registry_(registry),
      device_(device),
      options_(options),
      host_memory_(device.info().type == HEARTH_DEVICE_CPU) {}

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
  hearth_tensor native = make_tensor(nullptr, info.type, {n_in, n_out}, row_bytes);
  hearth_tensor probe_x = make_tensor(nullptr, HEARTH_DTYPE_F32, {n_in, 1});
  hearth_tensor probe_y = make_tensor(nullptr, HEARTH_DTYPE_F32, {n_out, 1});
  auto reason = device_.unsupported_reason(op_matmul(probe_y, native, probe_x));
  if (!reason) return place(info.data, info.nbytes, native);

  if (noted_types_.insert(info.type).second && options_.notice)
    options_.notice("backend " + device_.backend_name() + " cannot multiply " +
                    type_name(info.type) + " weights (" + *reason + "); converting them to F32 at load");
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
