#include "interleaved_weights.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "dtype_info.hpp"
#include "file_mapping.hpp"
#include "thread_pool.hpp"

namespace hearth::backend_cpu {

InterleavedWeights::Key InterleavedWeights::key_of(const hearth_tensor& w) {
  return {w.data, static_cast<int>(w.dtype), w.ne[0], w.ne[1], w.nb[1]};
}

uint64_t InterleavedWeights::source_extent(const hearth_tensor& w) {
  const DtypeLayout layout = dtype_layout(w.dtype);
  const int64_t row_bytes = w.ne[0] / layout.block_elems * layout.block_bytes;
  return static_cast<uint64_t>((w.ne[1] - 1) * w.nb[1] + row_bytes);
}

bool InterleavedWeights::eligible_shape(const hearth_tensor& w) const {
  return interleaved_gemv(w.dtype) != nullptr && w.ne[1] >= kInterleavedRows && w.ne[2] == 1 &&
         w.ne[3] == 1 && w.data != nullptr;
}

bool InterleavedWeights::still_valid(const Key& key, const Entry& entry) const {
  const auto* src = static_cast<const unsigned char*>(std::get<0>(key));
  return std::memcmp(src, entry.head, sizeof entry.head) == 0 &&
         std::memcmp(src + entry.source_bytes - sizeof entry.tail, entry.tail, sizeof entry.tail) ==
             0;
}

InterleavedWeights::Entry InterleavedWeights::build(const hearth_tensor& w, InterleavedGemvFn gemv,
                                                    ThreadPool& pool) const {
  auto matrix = std::make_shared<InterleavedMatrix>();
  matrix->gemv = gemv;
  matrix->n_in = w.ne[0];
  matrix->n_groups = w.ne[1] / kInterleavedRows;
  matrix->group_bytes = interleaved_group_bytes(w.dtype, w.ne[0]);
  matrix->data = HugePageBuffer(static_cast<size_t>(matrix->n_groups * matrix->group_bytes));
  const auto* src = static_cast<const char*>(w.data);
  pool.parallel_for(matrix->n_groups, 16, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g)
      interleave_rows(w.dtype, src + g * kInterleavedRows * w.nb[1], w.nb[1], w.ne[0],
                      matrix->data.get() + g * matrix->group_bytes);
  });
  Entry entry;
  entry.source_bytes = source_extent(w);
  std::memcpy(entry.head, src, sizeof entry.head);
  std::memcpy(entry.tail, src + entry.source_bytes - sizeof entry.tail, sizeof entry.tail);
  entry.matrix = std::move(matrix);
  return entry;
}

std::shared_ptr<const InterleavedMatrix> InterleavedWeights::find_or_build_locked(
    const hearth_tensor& w, WeightMemory memory, ThreadPool& pool, InterleavedBuild& built) {
  const Key key = key_of(w);
  // Rows shorter than the fingerprint are not worth a copy (and could not carry one).
  longest_source_ = std::max<uint64_t>(longest_source_, source_extent(w));
  if (memory == WeightMemory::kOther || source_extent(w) < 2 * sizeof(Entry::head)) {
    entries_.emplace(key, Entry{});
    return nullptr;
  }
  Entry entry = build(w, interleaved_gemv(w.dtype), pool);
  built.copied_bytes = static_cast<uint64_t>(entry.matrix->n_groups * entry.matrix->group_bytes);
  total_bytes_ += built.copied_bytes;
  if (memory == WeightMemory::kReadOnlyFile)
    built.released_bytes = release_file_pages(w.data, entry.source_bytes);
  auto matrix = entry.matrix;
  entries_.insert_or_assign(key, std::move(entry));
  return matrix;
}

void InterleavedWeights::forget(const void* begin, uint64_t bytes) {
  const auto first = reinterpret_cast<uintptr_t>(begin);
  std::lock_guard lock(mutex_);
  // Every op's output comes here (~400 per decode step): entries are ordered by source address,
  // so only those starting within the longest source before `first` can reach into the range.
  const uintptr_t from = first > longest_source_ ? first - longest_source_ : 0;
  constexpr int64_t kLowest = std::numeric_limits<int64_t>::min();
  for (auto it =
           entries_.lower_bound(Key{reinterpret_cast<const void*>(from),
                                    std::numeric_limits<int>::min(), kLowest, kLowest, kLowest});
       it != entries_.end();) {
    const auto src = reinterpret_cast<uintptr_t>(std::get<0>(it->first));
    if (src >= first + bytes) break;
    const uint64_t extent = it->second.matrix ? it->second.source_bytes : 1;
    if (first < src + extent) {
      if (it->second.matrix)
        total_bytes_ -=
            static_cast<uint64_t>(it->second.matrix->n_groups * it->second.matrix->group_bytes);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

uint64_t InterleavedWeights::total_bytes() const {
  std::lock_guard lock(mutex_);
  return total_bytes_;
}

}  // namespace hearth::backend_cpu
