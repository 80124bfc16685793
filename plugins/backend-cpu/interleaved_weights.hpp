// The cpu device's copies of quantized MATMUL weights in the interleaved-rows layout
// (interleaved_rows.hpp), built on a weight's first use and kept for the device's life. Weights
// reach the backend only as op pointers, so a copy is keyed by the weight's pointer, dtype and
// shape, and is made only of memory whose contents cannot change behind the device's back:
//  - its own allocations (free, copy_to_device and op outputs overlapping them drop the copy);
//  - read-only private file mappings (the model file, used in place): there the original pages
//    are released after copying, so resident memory does not grow.
// Every hit also compares the source's first and last bytes with what was copied, which catches
// a different file mapped at the same address (a model reloaded) with the same shape.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "huge_page_buffer.hpp"
#include "interleaved_rows.hpp"

namespace hearth::backend_cpu {

class ThreadPool;

struct InterleavedMatrix {
  InterleavedGemvFn gemv = nullptr;
  int64_t n_in = 0;
  int64_t n_groups =
      0;  // rows 8 g .. 8 g + 7 of the weight; the rows after 8 n_groups are not here
  int64_t group_bytes = 0;
  HugePageBuffer data;

  const char* group(int64_t g) const { return data.get() + g * group_bytes; }
};

enum class WeightMemory { kDeviceAllocation, kReadOnlyFile, kOther };

struct InterleavedBuild {
  uint64_t copied_bytes = 0;
  uint64_t released_bytes = 0;
};

class InterleavedWeights {
 public:
  // Interleaved rows of MATMUL weight w, built now if new (on the pool), or null when w's type
  // has no interleaved kernel on this CPU, it has fewer than 8 rows, or its memory is kOther.
  // memory_of is asked only about a weight not seen before; `built` says what a new copy cost.
  template <class MemoryOf>
  std::shared_ptr<const InterleavedMatrix> find_or_build(const hearth_tensor& w,
                                                         const MemoryOf& memory_of,
                                                         ThreadPool& pool, InterleavedBuild& built);

  // Drops every copy made from bytes overlapping [begin, begin + bytes).
  void forget(const void* begin, uint64_t bytes);

  uint64_t total_bytes() const;

 private:
  using Key = std::tuple<const void*, int, int64_t, int64_t, int64_t>;
  struct Entry {
    std::shared_ptr<const InterleavedMatrix> matrix;  // null: not eligible, don't ask again
    uint64_t source_bytes = 0;
    unsigned char head[32] = {};
    unsigned char tail[32] = {};
  };
  static Key key_of(const hearth_tensor& w);
  static uint64_t source_extent(const hearth_tensor& w);
  bool still_valid(const Key& key, const Entry& entry) const;
  Entry build(const hearth_tensor& w, InterleavedGemvFn gemv, ThreadPool& pool) const;
  std::shared_ptr<const InterleavedMatrix> find_or_build_locked(const hearth_tensor& w,
                                                                WeightMemory memory,
                                                                ThreadPool& pool,
                                                                InterleavedBuild& built);
  bool eligible_shape(const hearth_tensor& w) const;

  mutable std::mutex mutex_;
  std::map<Key, Entry> entries_;
  uint64_t total_bytes_ = 0;
  uint64_t longest_source_ = 0;  // bounds forget()'s search (never shrinks: stays correct)
};

template <class MemoryOf>
std::shared_ptr<const InterleavedMatrix> InterleavedWeights::find_or_build(
    const hearth_tensor& w, const MemoryOf& memory_of, ThreadPool& pool, InterleavedBuild& built) {
  if (!eligible_shape(w)) return nullptr;
  std::lock_guard lock(mutex_);
  const Key key = key_of(w);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    if (!it->second.matrix || still_valid(key, it->second)) return it->second.matrix;
    total_bytes_ -=
        static_cast<uint64_t>(it->second.matrix->n_groups * it->second.matrix->group_bytes);
    entries_.erase(it);
  }
  return find_or_build_locked(w, memory_of(w.data, source_extent(w)), pool, built);
}

}  // namespace hearth::backend_cpu
