// Anonymous memory for the interleaved weight copies, which decode streams once per token:
// mapped 2 MiB-aligned and advised as huge pages (MADV_HUGEPAGE, honoured when the kernel's
// transparent huge pages are "always" or "madvise"). With 4 KiB pages every 4 KiB of a weight
// is a TLB miss and a boundary the hardware prefetcher stops at.
#pragma once

#include <cstddef>

namespace hearth::backend_cpu {

class HugePageBuffer {
 public:
  HugePageBuffer() = default;
  // bytes > 0; throws std::bad_alloc when the mapping fails.
  explicit HugePageBuffer(size_t bytes);
  ~HugePageBuffer();
  HugePageBuffer(HugePageBuffer&& other) noexcept;
  HugePageBuffer& operator=(HugePageBuffer&& other) noexcept;
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;

  char* get() const { return data_; }

 private:
  void release() noexcept;

  void* mapping_ = nullptr;  // what mmap returned: the aligned data_ lies inside it
  size_t mapping_bytes_ = 0;
  char* data_ = nullptr;
};

}  // namespace hearth::backend_cpu
