// The slot cache of one ATTENTION_SLOTS op as the kernel reads it: one staging buffer in device
// memory that starts with a descriptor per KV head, followed by every tier's positions, K records
// and V records. Offsets are bytes from the start of that buffer, so the host can build the
// descriptors before it knows where the buffer lives.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>

namespace hearth::backend_gpu {

struct SlotTierOnDevice {
  uint32_t bits;
  uint32_t n_slots;
  uint32_t first_slot;  // slots are numbered through the head's tiers in order
  uint32_t record_bytes;
  uint64_t positions;  // int32 [n_slots]
  uint64_t k;          // n_slots records
  uint64_t v;
};

struct SlotHeadOnDevice {
  uint32_t n_tiers;
  uint32_t n_slots;
  SlotTierOnDevice tiers[HEARTH_KV_MAX_TIERS];
};

}  // namespace hearth::backend_gpu
