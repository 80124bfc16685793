// Built when HEARTH_BACKEND_CPU_ONEDNN is off: no F32Gemm provider, the plain loop does it all.
#include "f32_gemm.hpp"

namespace hearth::backend_cpu {

std::unique_ptr<F32Gemm> make_onednn_gemm(std::function<void(const std::string&)> /*warn*/) {
  return nullptr;
}

bool onednn_available() { return false; }

}  // namespace hearth::backend_cpu
