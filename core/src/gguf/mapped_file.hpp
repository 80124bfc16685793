// RAII wrappers for a POSIX file descriptor and a read-only memory mapping of a whole file.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>

namespace hearth::gguf_detail {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  int release();
  // Closes now, so that the caller sees close()'s error (it can report a failed write).
  int close();

 private:
  int fd_ = -1;
};

// The whole file mapped PROT_READ, MAP_PRIVATE. An empty file has an empty span and no mapping.
// Throws GgufError naming the path when the file cannot be opened, is not a regular file or
// cannot be mapped.
class MappedFile {
 public:
  static MappedFile open(const std::filesystem::path& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {address_, size_}; }

 private:
  MappedFile(const std::byte* address, std::size_t size) : address_(address), size_(size) {}
  void unmap();

  const std::byte* address_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace hearth::gguf_detail
