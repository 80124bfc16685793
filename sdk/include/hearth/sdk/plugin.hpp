// C++ layer over the C contract in abi.h, for plugin authors.
//
// Derive from hearth::sdk::Backend / Format / KvPolicy, then name the class in one
// HEARTH_*_PLUGIN macro. The macro exports hearth_plugin_entry and fills the C function
// tables with noexcept trampolines: any exception a plugin throws becomes a status with its
// message, so nothing can unwind across the boundary.
#pragma once

#include <hearth/sdk/abi.h>

#include <charconv>
#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::sdk {

// Throw this (or any std::exception) from plugin code; the trampoline turns it into a status.
class PluginError : public std::runtime_error {
 public:
  PluginError(hearth_status_code code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  hearth_status_code code() const noexcept { return code_; }

 private:
  hearth_status_code code_;
};

// Runs f; returns NULL on success or a host-made status describing what f threw.
template <class F>
hearth_status* guard(const hearth_host_api* host, F&& f) noexcept {
  try {
    std::forward<F>(f)();
    return nullptr;
  } catch (const PluginError& e) {
    return host->status_create(e.code(), e.what());
  } catch (const std::bad_alloc&) {
    return host->status_create(HEARTH_ERR_OUT_OF_MEMORY, "out of host memory");
  } catch (const std::exception& e) {
    return host->status_create(HEARTH_ERR_INTERNAL, e.what());
  } catch (...) {
    return host->status_create(HEARTH_ERR_INTERNAL, "unknown exception in plugin");
  }
}

// Options given to open(): typed lookups whose errors name the key.
class Options {
 public:
  Options(const hearth_option* options, size_t n) {
    for (size_t i = 0; i < n; ++i) items_.emplace_back(options[i].key, options[i].value);
  }
  std::optional<std::string> get(std::string_view key) const {
    for (const auto& [k, v] : items_)
      if (k == key) return v;
    return std::nullopt;
  }
  std::string get_string(std::string_view key, std::string fallback) const {
    return get(key).value_or(std::move(fallback));
  }
  long long get_int(std::string_view key, long long fallback) const {
    auto v = get(key);
    if (!v) return fallback;
    long long out = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
    if (ec != std::errc() || end != v->data() + v->size())
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        "option '" + std::string(key) + "' must be an integer, got '" + *v + "'");
    return out;
  }
  double get_double(std::string_view key, double fallback) const {
    auto v = get(key);
    if (!v) return fallback;
    try {
      size_t used = 0;
      double out = std::stod(*v, &used);
      if (used == v->size()) return out;
    } catch (const std::exception&) {
    }
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      "option '" + std::string(key) + "' must be a number, got '" + *v + "'");
  }
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// Copies s into a fixed char array, truncating, always NUL-terminated.
template <size_t N>
void copy_name(char (&dst)[N], std::string_view s) {
  size_t n = s.size() < N - 1 ? s.size() : N - 1;
  std::memcpy(dst, s.data(), n);
  dst[n] = '\0';
}

class PluginBase {
 public:
  explicit PluginBase(const hearth_host_api* host) : host_(host) {}
  virtual ~PluginBase() = default;
  PluginBase(const PluginBase&) = delete;
  PluginBase& operator=(const PluginBase&) = delete;
  const hearth_host_api* host() const { return host_; }
  void log(hearth_log_level level, const char* plugin, const std::string& message) const {
    if (host_->log) host_->log(host_, level, plugin, message.c_str());
  }

 private:
  const hearth_host_api* host_;
};

// ------------------------------------------------------------------ backend

class Device {
 public:
  virtual ~Device() = default;
  virtual void* alloc(uint64_t bytes) = 0;
  virtual void free(void* ptr) noexcept = 0;
  virtual void copy_to_device(void* dst, const void* src, uint64_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, uint64_t bytes) = 0;
  virtual void synchronize() = 0;
  // nullopt if the op can run here; otherwise the reason it cannot.
  virtual std::optional<std::string> unsupported_reason(const hearth_op& op) const = 0;
  virtual void run(const hearth_op& op) = 0;
};

class Backend : public PluginBase {
 public:
  using PluginBase::PluginBase;
  virtual std::vector<hearth_device_info> devices() const = 0;
  virtual std::unique_ptr<Device> open(uint32_t index, const Options& options) = 0;
  virtual void* get_proc(const char* /*name*/) { return nullptr; }
};

namespace detail {
struct DeviceHandle {
  const hearth_host_api* host;
  std::unique_ptr<Device> device;
};
}  // namespace detail

template <class Impl>
const hearth_backend_api* backend_api() {
  static const hearth_backend_api api = {
      sizeof(hearth_backend_api),
      [](void* b) -> uint32_t {
        try {
          return static_cast<uint32_t>(static_cast<Impl*>(b)->devices().size());
        } catch (...) {
          return 0;
        }
      },
      [](void* b, uint32_t index, hearth_device_info* out) -> hearth_status* {
        auto* self = static_cast<Impl*>(b);
        return guard(self->host(), [&] {
          auto devs = self->devices();
          if (index >= devs.size())
            throw PluginError(HEARTH_ERR_INVALID_ARGUMENT, "no device " + std::to_string(index));
          *out = devs[index];
        });
      },
      [](void* b, uint32_t index, const hearth_option* options, size_t n,
         void** out) -> hearth_status* {
        auto* self = static_cast<Impl*>(b);
        return guard(self->host(), [&] {
          auto handle = std::make_unique<detail::DeviceHandle>();
          handle->host = self->host();
          handle->device = self->open(index, Options(options, n));
          *out = handle.release();
        });
      },
      [](void* d) { delete static_cast<detail::DeviceHandle*>(d); },
      [](void* d, uint64_t bytes, void** out) -> hearth_status* {
        auto* h = static_cast<detail::DeviceHandle*>(d);
        return guard(h->host, [&] { *out = h->device->alloc(bytes); });
      },
      [](void* d, void* ptr) { static_cast<detail::DeviceHandle*>(d)->device->free(ptr); },
      [](void* d, void* dst, const void* src, uint64_t bytes) -> hearth_status* {
        auto* h = static_cast<detail::DeviceHandle*>(d);
        return guard(h->host, [&] { h->device->copy_to_device(dst, src, bytes); });
      },
      [](void* d, void* dst, const void* src, uint64_t bytes) -> hearth_status* {
        auto* h = static_cast<detail::DeviceHandle*>(d);
        return guard(h->host, [&] { h->device->copy_to_host(dst, src, bytes); });
      },
      [](void* d) -> hearth_status* {
        auto* h = static_cast<detail::DeviceHandle*>(d);
        return guard(h->host, [&] { h->device->synchronize(); });
      },
      [](void* d, const hearth_op* op) -> hearth_status* {
        auto* h = static_cast<detail::DeviceHandle*>(d);
        return guard(h->host, [&] {
          if (auto reason = h->device->unsupported_reason(*op))
            throw PluginError(HEARTH_ERR_UNSUPPORTED, *reason);
        });
      },
      [](void* d, const hearth_op* op) -> hearth_status* {
        auto* h = static_cast<detail::DeviceHandle*>(d);
        return guard(h->host, [&] { h->device->run(*op); });
      },
      [](void* b, const char* name) -> void* {
        try {
          return static_cast<Impl*>(b)->get_proc(name);
        } catch (...) {
          return nullptr;
        }
      },
  };
  return &api;
}

// ------------------------------------------------------------------ format

class Format : public PluginBase {
 public:
  using PluginBase::PluginBase;
  const std::vector<hearth_format_type>& types() const { return types_; }
  const hearth_format_type* find(hearth_dtype dtype) const {
    for (const auto& t : types_)
      if (t.dtype == dtype) return &t;
    return nullptr;
  }
  virtual void dequantize(hearth_dtype dtype, const void* src, float* dst, int64_t n) = 0;
  virtual void quantize(hearth_dtype dtype, const float* src, void* dst, int64_t n_rows,
                        int64_t n_per_row, const float* importance) = 0;
  // Variable-size types (block_bytes == 0): the whole encoding of a matrix, and its validator.
  virtual std::vector<std::byte> encode(hearth_dtype dtype, const float* /*src*/,
                                        int64_t /*n_rows*/, int64_t /*n_per_row*/,
                                        const float* /*importance*/, const Options& /*options*/) {
    throw PluginError(
        HEARTH_ERR_UNSUPPORTED,
        "this format has no variable-size encoder for dtype " + std::to_string(dtype));
  }
  virtual void validate(hearth_dtype dtype, const void* /*data*/, uint64_t /*bytes*/,
                        int64_t /*n_rows*/, int64_t /*n_per_row*/) {
    throw PluginError(HEARTH_ERR_UNSUPPORTED,
                      "this format has no validator for dtype " + std::to_string(dtype));
  }

 protected:
  void add_type(hearth_dtype dtype, std::string_view name, uint32_t block_elems,
                uint32_t block_bytes) {
    hearth_format_type t{};
    t.struct_size = sizeof(t);
    t.dtype = dtype;
    copy_name(t.name, name);
    t.block_elems = block_elems;
    t.block_bytes = block_bytes;
    types_.push_back(t);
  }

 private:
  std::vector<hearth_format_type> types_;
};

template <class Impl>
const hearth_format_api* format_api() {
  static const hearth_format_api api = {
      sizeof(hearth_format_api),
      [](void* f) -> uint32_t { return static_cast<uint32_t>(static_cast<Impl*>(f)->types().size()); },
      [](void* f, uint32_t index, hearth_format_type* out) -> hearth_status* {
        auto* self = static_cast<Impl*>(f);
        return guard(self->host(), [&] {
          if (index >= self->types().size())
            throw PluginError(HEARTH_ERR_INVALID_ARGUMENT, "no type " + std::to_string(index));
          *out = self->types()[index];
        });
      },
      [](void* f, hearth_dtype dtype, const void* src, float* dst, int64_t n) -> hearth_status* {
        auto* self = static_cast<Impl*>(f);
        return guard(self->host(), [&] { self->dequantize(dtype, src, dst, n); });
      },
      [](void* f, hearth_dtype dtype, const float* src, void* dst, int64_t rows, int64_t per_row,
         const float* importance) -> hearth_status* {
        auto* self = static_cast<Impl*>(f);
        return guard(self->host(),
                     [&] { self->quantize(dtype, src, dst, rows, per_row, importance); });
      },
      [](void* f, hearth_dtype dtype, const float* src, int64_t rows, int64_t per_row,
         const float* importance, const hearth_option* options, size_t n_options,
         const hearth_byte_sink* out) -> hearth_status* {
        auto* self = static_cast<Impl*>(f);
        return guard(self->host(), [&] {
          const std::vector<std::byte> bytes =
              self->encode(dtype, src, rows, per_row, importance, Options(options, n_options));
          void* dst = out && out->reserve ? out->reserve(out->context, bytes.size()) : nullptr;
          if (!dst)
            throw PluginError(
                HEARTH_ERR_OUT_OF_MEMORY,
                "the host could not take the " + std::to_string(bytes.size()) + " encoded bytes");
          std::memcpy(dst, bytes.data(), bytes.size());
        });
      },
      [](void* f, hearth_dtype dtype, const void* data, uint64_t bytes, int64_t rows,
         int64_t per_row) -> hearth_status* {
        auto* self = static_cast<Impl*>(f);
        return guard(self->host(), [&] { self->validate(dtype, data, bytes, rows, per_row); });
      },
  };
  return &api;
}

// ------------------------------------------------------------------ KV policy

class KvState {
 public:
  virtual ~KvState() = default;
  virtual uint32_t stats_per_slot() const = 0;
  virtual void observe(hearth_kv_view& view, const float* attention_mass,
                       uint32_t n_query_rows) = 0;
  virtual void decide(hearth_kv_view& view, const hearth_kv_budget& budget, uint8_t* evict) = 0;
};

class KvPolicy : public PluginBase {
 public:
  using PluginBase::PluginBase;
  virtual std::unique_ptr<KvState> open(const Options& options) = 0;
};

namespace detail {
struct KvHandle {
  const hearth_host_api* host;
  std::unique_ptr<KvState> state;
};
}  // namespace detail

template <class Impl>
const hearth_kv_api* kv_api() {
  static const hearth_kv_api api = {
      sizeof(hearth_kv_api),
      [](void* p, const hearth_option* options, size_t n, void** out) -> hearth_status* {
        auto* self = static_cast<Impl*>(p);
        return guard(self->host(), [&] {
          auto handle = std::make_unique<detail::KvHandle>();
          handle->host = self->host();
          handle->state = self->open(Options(options, n));
          *out = handle.release();
        });
      },
      [](void* s) { delete static_cast<detail::KvHandle*>(s); },
      [](void* s) -> uint32_t { return static_cast<detail::KvHandle*>(s)->state->stats_per_slot(); },
      [](void* s, hearth_kv_view* view, const float* mass, uint32_t rows) -> hearth_status* {
        auto* h = static_cast<detail::KvHandle*>(s);
        return guard(h->host, [&] { h->state->observe(*view, mass, rows); });
      },
      [](void* s, hearth_kv_view* view, const hearth_kv_budget* budget,
         uint8_t* evict) -> hearth_status* {
        auto* h = static_cast<detail::KvHandle*>(s);
        return guard(h->host, [&] { h->state->decide(*view, *budget, evict); });
      },
  };
  return &api;
}

// ------------------------------------------------------------------ descriptor

template <class Impl>
hearth_status* create_instance(const hearth_host_api* host, void** out) noexcept {
  return guard(host, [&] { *out = new Impl(host); });
}

template <class Impl>
void destroy_instance(void* instance) noexcept {
  delete static_cast<Impl*>(instance);
}

template <class Impl>
hearth_plugin_descriptor make_descriptor(hearth_plugin_kind kind, const char* name,
                                         const char* version, const char* description,
                                         const void* api) {
  hearth_plugin_descriptor d{};
  d.abi_major = HEARTH_ABI_MAJOR;
  d.abi_minor = HEARTH_ABI_MINOR;
  d.struct_size = sizeof(hearth_plugin_descriptor);
  d.kind = kind;
  d.name = name;
  d.version = version;
  d.description = description;
  d.create = &create_instance<Impl>;
  d.destroy = &destroy_instance<Impl>;
  d.api = api;
  return d;
}

}  // namespace hearth::sdk

#define HEARTH_DETAIL_PLUGIN(Impl, kind, name, version, description, api)                   \
  extern "C" HEARTH_PLUGIN_EXPORT const hearth_plugin_descriptor* hearth_plugin_entry(void) { \
    static const hearth_plugin_descriptor descriptor =                                        \
        ::hearth::sdk::make_descriptor<Impl>(kind, name, version, description, api);          \
    return &descriptor;                                                                       \
  }

#define HEARTH_BACKEND_PLUGIN(Impl, name, version, description)                   \
  HEARTH_DETAIL_PLUGIN(Impl, HEARTH_KIND_BACKEND, name, version, description, \
                       ::hearth::sdk::backend_api<Impl>())
#define HEARTH_FORMAT_PLUGIN(Impl, name, version, description)                   \
  HEARTH_DETAIL_PLUGIN(Impl, HEARTH_KIND_FORMAT, name, version, description, \
                       ::hearth::sdk::format_api<Impl>())
#define HEARTH_KV_PLUGIN(Impl, name, version, description) \
  HEARTH_DETAIL_PLUGIN(Impl, HEARTH_KIND_KV, name, version, description, ::hearth::sdk::kv_api<Impl>())
