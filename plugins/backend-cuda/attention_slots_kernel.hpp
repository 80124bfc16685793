// The ATTENTION_SLOTS kernel's launch: what attention_slots.cpp (host side) prepared.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstddef>
#include <cstdint>

#include "attention_slots_layout.hpp"
#include "gpu_runtime.hpp"

namespace hearth::backend_gpu {

struct AttentionSlotsLaunch {
  const uint8_t* staging;  // SlotHeadOnDevice[n_head_kv], then the records they point into
  hearth_tensor q;         // [head_dim, n_head, n_q] on the device
  hearth_tensor dst;
  const int32_t* pos_q;  // device, all n_q queries
  float* mass;           // device [n_q][n_head_kv][mass_stride], or null
  int64_t mass_stride;
  float* scores;  // device scratch [n_q chunk][n_head][max_slots]
  int64_t max_slots;
  int64_t n_head_kv;
  int64_t q_begin;  // the chunk's first query
  int64_t n_q;      // queries in this chunk
  uint32_t group_size;
  float scale;
};

// Dynamic shared memory a block needs for `group` query heads of head_dim channels.
size_t attention_slots_shared_bytes(int64_t group, int64_t head_dim);

// Queues one chunk of queries.
cudaError_t launch_attention_slots_kernel(const AttentionSlotsLaunch& launch, cudaStream_t stream);

}  // namespace hearth::backend_gpu
