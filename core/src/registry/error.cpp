#include <hearth/error.hpp>
#include <hearth/plugin_info.hpp>

namespace hearth {

const char* status_code_name(hearth_status_code code) noexcept {
  switch (code) {
    case HEARTH_OK: return "ok";
    case HEARTH_ERR_INVALID_ARGUMENT: return "invalid argument";
    case HEARTH_ERR_UNSUPPORTED: return "unsupported";
    case HEARTH_ERR_OUT_OF_MEMORY: return "out of memory";
    case HEARTH_ERR_DEVICE: return "device error";
    case HEARTH_ERR_IO: return "I/O error";
    case HEARTH_ERR_VERSION_MISMATCH: return "version mismatch";
    case HEARTH_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

const char* plugin_kind_name(PluginKind kind) noexcept {
  switch (kind) {
    case PluginKind::backend: return "backend";
    case PluginKind::format: return "format";
    case PluginKind::kv: return "kv";
  }
  return "?";
}

}  // namespace hearth
