#include "dtype_info.hpp"

namespace hearth::backend_gpu {

std::string dtype_name(hearth_dtype dtype) {
  switch (dtype) {
    case HEARTH_DTYPE_F32:
      return "F32";
    case HEARTH_DTYPE_F16:
      return "F16";
    case HEARTH_DTYPE_Q4_0:
      return "Q4_0";
    case HEARTH_DTYPE_Q4_1:
      return "Q4_1";
    case HEARTH_DTYPE_Q5_0:
      return "Q5_0";
    case HEARTH_DTYPE_Q5_1:
      return "Q5_1";
    case HEARTH_DTYPE_Q8_0:
      return "Q8_0";
    case HEARTH_DTYPE_Q8_1:
      return "Q8_1";
    case HEARTH_DTYPE_Q2_K:
      return "Q2_K";
    case HEARTH_DTYPE_Q3_K:
      return "Q3_K";
    case HEARTH_DTYPE_Q4_K:
      return "Q4_K";
    case HEARTH_DTYPE_Q5_K:
      return "Q5_K";
    case HEARTH_DTYPE_Q6_K:
      return "Q6_K";
    case HEARTH_DTYPE_Q8_K:
      return "Q8_K";
    case HEARTH_DTYPE_I8:
      return "I8";
    case HEARTH_DTYPE_I16:
      return "I16";
    case HEARTH_DTYPE_I32:
      return "I32";
    case HEARTH_DTYPE_I64:
      return "I64";
    case HEARTH_DTYPE_F64:
      return "F64";
    case HEARTH_DTYPE_BF16:
      return "BF16";
    case HEARTH_DTYPE_CS256:
      return "CS256";
    case HEARTH_DTYPE_NF4:
      return "NF4";
    default:
      return "dtype " + std::to_string(dtype);
  }
}

DtypeLayout dtype_layout(hearth_dtype dtype) {
  switch (dtype) {
    case HEARTH_DTYPE_F32:
      return {1, 4};
    case HEARTH_DTYPE_I32:
      return {1, 4};
    case HEARTH_DTYPE_I8:  // ATTENTION_SLOTS' table travels as bytes
      return {1, 1};
    case HEARTH_DTYPE_F16:
      return {1, 2};
    case HEARTH_DTYPE_BF16:
      return {1, 2};
    case HEARTH_DTYPE_Q8_0:
      return {32, 34};
    case HEARTH_DTYPE_Q4_0:
      return {32, 18};
    case HEARTH_DTYPE_Q5_0:
      return {32, 22};
    case HEARTH_DTYPE_Q4_K:
      return {256, 144};
    case HEARTH_DTYPE_Q5_K:
      return {256, 176};
    case HEARTH_DTYPE_Q6_K:
      return {256, 210};
    case HEARTH_DTYPE_NF4:
      return {64, 36};
    default:
      return {0, 0};
  }
}

}  // namespace hearth::backend_gpu
