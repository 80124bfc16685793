// A bounds-checked little-endian reader over a file's bytes. Every failure throws GgufError
// naming the file, the byte offset and what was being read (the "context": the header, a key,
// a tensor's info).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace hearth::gguf_detail {

class ByteCursor {
 public:
  ByteCursor(std::span<const std::byte> bytes, std::string_view file_name)
      : bytes_(bytes), file_name_(file_name) {}

  uint64_t position() const { return position_; }
  uint64_t size() const { return bytes_.size(); }
  uint64_t remaining() const { return bytes_.size() - position_; }

  // What is being read, for messages: "the header", "key 'general.name'", "tensor 'x' info".
  void set_context(std::string context) { context_ = std::move(context); }

  uint8_t u8(std::string_view what);
  uint16_t u16(std::string_view what);
  uint32_t u32(std::string_view what);
  uint64_t u64(std::string_view what);
  // A gguf_string: uint64 length, then that many bytes.
  std::string string(std::string_view what);

  // "<file>: <problem> (at byte <offset>, reading <context>); <advice>"
  [[noreturn]] void fail(uint64_t offset, std::string_view problem, std::string_view advice) const;

 private:
  // Returns the next n bytes and advances; throws the "file is truncated" error if fewer remain.
  // what + what_suffix names the field (two parts, so the hot path builds no strings).
  const std::byte* take(uint64_t n, std::string_view what, std::string_view what_suffix = {});
  uint64_t little_endian(std::size_t n, std::string_view what, std::string_view what_suffix = {});

  std::span<const std::byte> bytes_;
  std::string_view file_name_;
  std::string context_ = "the header";
  uint64_t position_ = 0;
};

}  // namespace hearth::gguf_detail
