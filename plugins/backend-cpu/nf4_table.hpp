// The NF4 code book (bitsandbytes get_4bit_type("nf4"); shared/specs/nf4.md §1), index = code.
#pragma once

#include <hearth/sdk/abi.h>

#include <array>

namespace hearth::backend_cpu {

alignas(32) inline constexpr std::array<float, 16> kNf4Table = HEARTH_NF4_CODEBOOK;

}  // namespace hearth::backend_cpu
