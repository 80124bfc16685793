#include "mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <hearth/gguf.hpp>
#include <string>
#include <utility>

namespace hearth::gguf_detail {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() { close(); }

int UniqueFd::release() { return std::exchange(fd_, -1); }

int UniqueFd::close() {
  if (fd_ < 0) return 0;
  return ::close(std::exchange(fd_, -1));
}

MappedFile MappedFile::open(const std::filesystem::path& path) {
  const std::string name = path.string();
  UniqueFd fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0)
    throw GgufError(name + ": cannot open the file (" + std::strerror(errno) +
                    "); check the path and its permissions");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    throw GgufError(name + ": cannot read the file's size (" + std::strerror(errno) + ")");
  if (!S_ISREG(st.st_mode))
    throw GgufError(name + ": is not a regular file; pass the path of a .gguf file");
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) return MappedFile(nullptr, 0);
  void* address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (address == MAP_FAILED)
    throw GgufError(name + ": cannot memory-map the file (" + std::strerror(errno) +
                    "); check free address space and that the file system supports mmap");
  // The mapping stays valid after the descriptor closes.
  return MappedFile(static_cast<const std::byte*>(address), size);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : address_(std::exchange(other.address_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    unmap();
    address_ = std::exchange(other.address_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() { unmap(); }

void MappedFile::unmap() {
  if (address_ != nullptr) ::munmap(const_cast<std::byte*>(address_), size_);
  address_ = nullptr;
  size_ = 0;
}

}  // namespace hearth::gguf_detail
