// Checks an op against the contract in abi.h before a kernel sees it. The kernels assume what
// these functions establish: known dtypes, shapes that fit together, contiguous rows.
#pragma once

#include <hearth/sdk/abi.h>

#include <optional>
#include <string>
#include <vector>

namespace hearth::backend_gpu {

// "MATMUL", "ROPE", ... or "op 42".
std::string op_name(uint32_t kind);

// op.kind as the host wrote it. A host may send a kind this build does not know, and loading an
// out-of-range value through the C enum type is undefined behaviour in C++, so read the bits.
uint32_t raw_kind(const hearth_op& op);

// "[64, 8, 3] F32"
std::string describe_tensor(const hearth_tensor& t);

// Why the op cannot run on this backend (an op kind, dtype, mode or layout it does not take),
// or nullopt if it can. Throws sdk::PluginError(HEARTH_ERR_INVALID_ARGUMENT) when the op is
// malformed: wrong number of sources, shapes that do not fit together, bad parameters.
// Looks only at the descriptors, never at data, so it works before buffers exist.
std::optional<std::string> check_op(const hearth_op& op);

// Checks what the pointers can show, right before running: non-null, aligned data. Throws
// sdk::PluginError(HEARTH_ERR_INVALID_ARGUMENT). Never dereferences them (they are device memory).
void check_op_data(const hearth_op& op);

// EMBEDDING ids (copied back from the device) inside the table's vocabulary, or throws.
void check_embedding_ids(const hearth_op& op, const std::vector<int32_t>& ids);

}  // namespace hearth::backend_gpu
