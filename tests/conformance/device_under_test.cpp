#include "device_under_test.hpp"

#include <hearth/sdk/half.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace hearth::conformance {
namespace {

int64_t element_size(hearth_dtype dtype) {
  switch (dtype) {
    case HEARTH_DTYPE_F32:
    case HEARTH_DTYPE_I32:
      return 4;
    case HEARTH_DTYPE_F16:
    case HEARTH_DTYPE_BF16:
      return 2;
    default:
      return 0;  // a block type
  }
}

HostTensor laid_out(hearth_dtype dtype, const Shape& ne, uint32_t n_dims, int64_t row_bytes,
                    int64_t plane_pad) {
  HostTensor t;
  t.dtype = dtype;
  t.ne = ne;
  t.n_dims = n_dims;
  const int64_t esize = element_size(dtype);
  t.nb[0] = esize ? esize : row_bytes;
  t.nb[1] = row_bytes;
  t.nb[2] = t.nb[1] * ne[1] + plane_pad;
  t.nb[3] = t.nb[2] * ne[2];
  t.bytes.assign(static_cast<size_t>(t.nb[3] * ne[3]), 0);
  return t;
}

}  // namespace

HostTensor HostTensor::f32(const Shape& ne, uint32_t n_dims, const std::vector<float>& dense,
                           int64_t row_pad, int64_t plane_pad) {
  HostTensor t = laid_out(HEARTH_DTYPE_F32, ne, n_dims, (ne[0] + row_pad) * 4, plane_pad);
  if (static_cast<int64_t>(dense.size()) != element_count(ne))
    throw std::invalid_argument("HostTensor::f32: value count does not match the shape");
  int64_t k = 0;
  for (int64_t i3 = 0; i3 < ne[3]; ++i3)
    for (int64_t i2 = 0; i2 < ne[2]; ++i2)
      for (int64_t i1 = 0; i1 < ne[1]; ++i1) {
        std::memcpy(t.bytes.data() + i1 * t.nb[1] + i2 * t.nb[2] + i3 * t.nb[3], dense.data() + k,
                    static_cast<size_t>(ne[0]) * 4);
        k += ne[0];
      }
  return t;
}

HostTensor HostTensor::floats(hearth_dtype dtype, const Shape& ne, uint32_t n_dims,
                              const std::vector<float>& dense, int64_t row_pad, int64_t plane_pad) {
  if (dtype == HEARTH_DTYPE_F32) return f32(ne, n_dims, dense, row_pad, plane_pad);
  if (dtype != HEARTH_DTYPE_F16 && dtype != HEARTH_DTYPE_BF16)
    throw std::invalid_argument("HostTensor::floats: dtype must be F32, F16 or BF16");
  HostTensor t = laid_out(dtype, ne, n_dims, (ne[0] + row_pad) * 2, plane_pad);
  if (static_cast<int64_t>(dense.size()) != element_count(ne))
    throw std::invalid_argument("HostTensor::floats: value count does not match the shape");
  int64_t k = 0;
  for (int64_t i3 = 0; i3 < ne[3]; ++i3)
    for (int64_t i2 = 0; i2 < ne[2]; ++i2)
      for (int64_t i1 = 0; i1 < ne[1]; ++i1)
        for (int64_t i0 = 0; i0 < ne[0]; ++i0, ++k) {
          const uint16_t bits =
              dtype == HEARTH_DTYPE_F16 ? sdk::fp32_to_fp16(dense[k]) : sdk::fp32_to_bf16(dense[k]);
          std::memcpy(t.bytes.data() + i0 * 2 + i1 * t.nb[1] + i2 * t.nb[2] + i3 * t.nb[3], &bits,
                      2);
        }
  return t;
}

HostTensor HostTensor::output_of(hearth_dtype dtype, const Shape& ne, uint32_t n_dims,
                                 int64_t row_pad, int64_t plane_pad) {
  const int64_t esize = element_size(dtype);
  if (esize == 0) throw std::invalid_argument("HostTensor::output_of: not an element type");
  HostTensor t = laid_out(dtype, ne, n_dims, (ne[0] + row_pad) * esize, plane_pad);
  std::fill(t.bytes.begin(), t.bytes.end(), 0xFF);
  return t;
}

std::vector<double> HostTensor::dense_values() const {
  std::vector<double> out;
  out.reserve(static_cast<size_t>(element_count(ne)));
  for (int64_t i3 = 0; i3 < ne[3]; ++i3)
    for (int64_t i2 = 0; i2 < ne[2]; ++i2)
      for (int64_t i1 = 0; i1 < ne[1]; ++i1) {
        const auto row =
            dequantize_row(dtype, bytes.data() + i1 * nb[1] + i2 * nb[2] + i3 * nb[3], ne[0]);
        out.insert(out.end(), row.begin(), row.end());
      }
  return out;
}

HostTensor HostTensor::output(const Shape& ne, uint32_t n_dims, int64_t row_pad,
                              int64_t plane_pad) {
  HostTensor t = laid_out(HEARTH_DTYPE_F32, ne, n_dims, (ne[0] + row_pad) * 4, plane_pad);
  std::fill(t.bytes.begin(), t.bytes.end(), 0xFF);
  return t;
}

HostTensor HostTensor::i32(const std::vector<int32_t>& values) {
  HostTensor t = laid_out(HEARTH_DTYPE_I32, {static_cast<int64_t>(values.size()), 1, 1, 1}, 1,
                          static_cast<int64_t>(values.size()) * 4, 0);
  if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), values.size() * 4);
  return t;
}

HostTensor HostTensor::weights(const WeightMatrix& w) {
  HostTensor t = laid_out(w.dtype, {w.n_in, w.n_out, 1, 1}, 2, w.row_bytes(), 0);
  t.bytes = w.bytes;
  return t;
}

HostTensor HostTensor::raw(hearth_dtype dtype, const Shape& ne, uint32_t n_dims,
                           int64_t row_bytes) {
  return laid_out(dtype, ne, n_dims, row_bytes, 0);
}

hearth_tensor HostTensor::descriptor(void* data) const {
  hearth_tensor t{};
  t.data = data;
  t.dtype = dtype;
  t.n_dims = n_dims;
  for (int d = 0; d < 4; ++d) {
    t.ne[d] = ne[d];
    t.nb[d] = nb[d];
  }
  return t;
}

std::vector<float> HostTensor::dense_f32() const {
  std::vector<float> out(static_cast<size_t>(element_count(ne)));
  int64_t k = 0;
  for (int64_t i3 = 0; i3 < ne[3]; ++i3)
    for (int64_t i2 = 0; i2 < ne[2]; ++i2)
      for (int64_t i1 = 0; i1 < ne[1]; ++i1) {
        std::memcpy(out.data() + k, bytes.data() + i1 * nb[1] + i2 * nb[2] + i3 * nb[3],
                    static_cast<size_t>(ne[0]) * 4);
        k += ne[0];
      }
  return out;
}

DeviceBuffer::DeviceBuffer(const DeviceUnderTest& device, uint64_t bytes)
    : device_(device), bytes_(bytes) {
  auto status = test::take(device.api().alloc(device.handle(), bytes, &ptr_));
  if (!status.ok())
    throw std::runtime_error("alloc of " + std::to_string(bytes) +
                             " bytes failed: " + status.message());
}

DeviceBuffer::~DeviceBuffer() { device_.api().free(device_.handle(), ptr_); }

std::unique_ptr<DeviceUnderTest> DeviceUnderTest::open(const std::string& name,
                                                       const OptionList& options,
                                                       std::string& skip_reason) {
  const auto file = test::plugin_file("backend", name);
  if (!std::filesystem::exists(file)) {
    skip_reason = "backend '" + name + "' is not built here (no " + file.string() + ")";
    return nullptr;
  }
  auto plugin = std::make_unique<test::PluginUnderTest>(file);
  const auto& api = plugin->api<hearth_backend_api>();
  if (api.device_count(plugin->instance()) == 0) {
    skip_reason = "backend '" + name + "' reports no devices on this machine";
    return nullptr;
  }
  std::vector<hearth_option> c_options;
  for (const auto& [k, v] : options) c_options.push_back({k.c_str(), v.c_str()});
  void* device = nullptr;
  auto status = test::take(
      api.open_device(plugin->instance(), 0, c_options.data(), c_options.size(), &device));
  if (!status.ok())
    throw std::runtime_error("backend '" + name + "': open_device(0) failed: " + status.message());
  return std::unique_ptr<DeviceUnderTest>(new DeviceUnderTest(name, std::move(plugin), device));
}

DeviceUnderTest::~DeviceUnderTest() { api().close_device(device_); }

test::StatusResult DeviceUnderTest::supports(const hearth_op& op) const {
  return test::take(api().supports_op(device_, &op));
}

test::StatusResult DeviceUnderTest::run(const hearth_op& op) const {
  auto status = test::take(api().run_op(device_, &op));
  if (!status.ok()) return status;
  return test::take(api().synchronize(device_));
}

DeviceTensor DeviceUnderTest::upload(const HostTensor& host) const {
  DeviceTensor t{host, std::make_unique<DeviceBuffer>(*this, host.bytes.size())};
  auto status = test::take(
      api().copy_to_device(device_, t.buffer->data(), host.bytes.data(), host.bytes.size()));
  if (!status.ok()) throw std::runtime_error("copy_to_device failed: " + status.message());
  return t;
}

void DeviceUnderTest::download(DeviceTensor& t) const {
  auto status = test::take(
      api().copy_to_host(device_, t.host.bytes.data(), t.buffer->data(), t.host.bytes.size()));
  if (!status.ok()) throw std::runtime_error("copy_to_host failed: " + status.message());
}

hearth_op make_op(hearth_op_kind kind, const hearth_tensor& dst,
                  std::initializer_list<hearth_tensor> sources) {
  hearth_op op{};
  op.struct_size = sizeof op;
  op.kind = kind;
  op.dst = dst;
  for (const auto& s : sources) op.src[op.n_src++] = s;
  return op;
}

}  // namespace hearth::conformance
