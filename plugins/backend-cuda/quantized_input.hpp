// Which activations the MATMUL scratch holds in q8 form, so a MATMUL reading the same ones (q, k
// and v all read one normalized row; gate and up another) skips quantizing them again. Any write
// that may touch the source (an op's output overlapping it, a host copy, a free) forgets them.
#pragma once

#include <hearth/sdk/abi.h>

namespace hearth::backend_gpu {

class QuantizedInput {
 public:
  // True when scratch holds exactly source, quantized.
  bool holds(const hearth_tensor& source, const void* scratch) const;
  void remember(const hearth_tensor& source, const void* scratch);
  // Forgets unless written (an op's output) is disjoint from the remembered source's bytes.
  void forget_if_overlapping(const hearth_tensor& written);
  void forget() { valid_ = false; }

 private:
  bool valid_ = false;
  hearth_tensor source_{};
  const void* scratch_ = nullptr;
};

}  // namespace hearth::backend_gpu
