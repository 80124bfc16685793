// Which activations the MATMUL scratch holds in q8 form, so a MATMUL reading the same ones (q, k
// and v all read one normalized row; gate and up another) skips quantizing them again. Any write
// that may touch the source (an op's output overlapping it, a host copy, a free) forgets them.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>

namespace hearth::backend_gpu {

// How the activations were rounded: llama.cpp's Q8_0 blocks (for the 32-block weight types) or
// its Q8_K super-blocks (for the K-quants). q and k in Q4_K with v in Q6_K share one rounding; a
// Q8_0 weight after a Q4_K one reading the same row does not.
enum class ActivationRounding : uint8_t { q8_0_blocks, q8_k_super_blocks };

class QuantizedInput {
 public:
  // True when scratch holds exactly source, quantized with that rounding.
  bool holds(const hearth_tensor& source, const void* scratch, ActivationRounding rounding) const;
  void remember(const hearth_tensor& source, const void* scratch, ActivationRounding rounding);
  // Forgets unless written (an op's output) is disjoint from the remembered source's bytes.
  void forget_if_overlapping(const hearth_tensor& written);
  void forget() { valid_ = false; }

 private:
  bool valid_ = false;
  hearth_tensor source_{};
  const void* scratch_ = nullptr;
  ActivationRounding rounding_ = ActivationRounding::q8_0_blocks;
};

}  // namespace hearth::backend_gpu
