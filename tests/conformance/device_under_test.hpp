// Test-side access to one backend device through the C API only: loads
// libhearth-backend-<name>.so, opens device 0, moves tensors in and out of device buffers.
#pragma once

#include <hearth/sdk/abi.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../support/plugin_under_test.hpp"
#include "reference_ops.hpp"

namespace hearth::conformance {

// A tensor's bytes on the host, laid out with the strides it will have on the device.
// row_pad adds unused elements after each row (nb[1] > row bytes); plane_pad adds unused bytes
// between dim-2 slices, so ops are tested on views with gaps, not only packed tensors.
struct HostTensor {
  hearth_dtype dtype = HEARTH_DTYPE_F32;
  uint32_t n_dims = 1;
  Shape ne{1, 1, 1, 1};
  std::array<int64_t, 4> nb{};
  std::vector<uint8_t> bytes;

  static HostTensor f32(const Shape& ne, uint32_t n_dims, const std::vector<float>& dense,
                        int64_t row_pad = 0, int64_t plane_pad = 0);
  // F32, F16 or BF16 elements from dense values, each rounded to dtype (exact when the value is
  // one of dtype's).
  static HostTensor floats(hearth_dtype dtype, const Shape& ne, uint32_t n_dims,
                           const std::vector<float>& dense, int64_t row_pad = 0,
                           int64_t plane_pad = 0);
  // F32 output whose every byte is 0xFF (a NaN), so elements an op never writes show up.
  static HostTensor output(const Shape& ne, uint32_t n_dims, int64_t row_pad = 0,
                           int64_t plane_pad = 0);
  // The same for an F32, F16 or BF16 output (0xFFFF is a NaN in both 16-bit types).
  static HostTensor output_of(hearth_dtype dtype, const Shape& ne, uint32_t n_dims,
                              int64_t row_pad = 0, int64_t plane_pad = 0);
  static HostTensor i32(const std::vector<int32_t>& values);
  static HostTensor weights(const WeightMatrix& w);
  // Same layout, another element type (for bad-input tests).
  static HostTensor raw(hearth_dtype dtype, const Shape& ne, uint32_t n_dims, int64_t row_bytes);

  hearth_tensor descriptor(void* data) const;
  // The F32 elements in dense ggml order, skipping padding.
  std::vector<float> dense_f32() const;
  // The F32, F16 or BF16 elements as exact doubles, in dense ggml order.
  std::vector<double> dense_values() const;
};

class DeviceUnderTest;

// A device allocation, freed on destruction.
class DeviceBuffer {
 public:
  DeviceBuffer(const DeviceUnderTest& device, uint64_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* data() const { return ptr_; }
  uint64_t size() const { return bytes_; }

 private:
  const DeviceUnderTest& device_;
  void* ptr_ = nullptr;
  uint64_t bytes_ = 0;
};

// A HostTensor with its device copy; descriptor() points at device memory.
struct DeviceTensor {
  HostTensor host;
  std::unique_ptr<DeviceBuffer> buffer;
  hearth_tensor descriptor() const { return host.descriptor(buffer->data()); }
};

class DeviceUnderTest {
 public:
  using OptionList = std::vector<std::pair<std::string, std::string>>;

  // Opens device 0 of backend `name`. Returns null with skip_reason set when the plugin file is
  // absent or reports no devices; throws when the plugin is there but fails to load or open.
  static std::unique_ptr<DeviceUnderTest> open(const std::string& name, const OptionList& options,
                                               std::string& skip_reason);
  ~DeviceUnderTest();
  DeviceUnderTest(const DeviceUnderTest&) = delete;
  DeviceUnderTest& operator=(const DeviceUnderTest&) = delete;

  const std::string& backend() const { return name_; }
  const hearth_backend_api& api() const { return plugin_->api<hearth_backend_api>(); }
  void* backend_instance() const { return plugin_->instance(); }
  void* handle() const { return device_; }

  test::StatusResult supports(const hearth_op& op) const;
  // run_op then synchronize.
  test::StatusResult run(const hearth_op& op) const;

  DeviceTensor upload(const HostTensor& host) const;
  // Copies the device bytes back into t.host.
  void download(DeviceTensor& t) const;

 private:
  DeviceUnderTest(std::string name, std::unique_ptr<test::PluginUnderTest> plugin, void* device)
      : name_(std::move(name)), plugin_(std::move(plugin)), device_(device) {}
  std::string name_;
  std::unique_ptr<test::PluginUnderTest> plugin_;
  void* device_;
};

// An op descriptor with its struct_size, kind and sources filled in.
hearth_op make_op(hearth_op_kind kind, const hearth_tensor& dst,
                  std::initializer_list<hearth_tensor> sources);

}  // namespace hearth::conformance
