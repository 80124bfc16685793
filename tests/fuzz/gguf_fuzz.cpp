// libFuzzer target for the GGUF reader. Any input must either parse or throw GgufError; any
// other exception, crash, sanitizer report or out-of-bounds read is a finding. A file that
// parses is also read back completely (every key through every getter, the first and last byte
// of every tensor) and, when the writer accepts it, rewritten and parsed again: the copy must
// parse and hold the same keys and tensors.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <hearth/gguf.hpp>
#include <span>

namespace {

using hearth::GgufError;
using hearth::GgufFile;

hearth::GgufOpenOptions fuzz_options() {
  hearth::GgufOpenOptions options;
  // One plugin-style type, so the extra_types path is reachable.
  options.extra_types = [](uint32_t id) -> std::optional<hearth::GgufTypeLayout> {
    if (id == 1100) return hearth::GgufTypeLayout{"FUZZ", 16, 10};
    return std::nullopt;
  };
  return options;
}

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "gguf_fuzz: %s\n", what);
  std::abort();
}

template <class Get>
void try_get(Get get) {
  try {
    (void)get();
  } catch (const GgufError&) {
  }
}

void read_everything(const GgufFile& file) {
  for (const auto& kv : file.metadata()) {
    if (file.find(kv.key) != &kv.value) finding("find() does not return the key's value");
    try_get([&] { return file.get_string(kv.key); });
    try_get([&] { return file.get_int(kv.key); });
    try_get([&] { return file.get_uint(kv.key); });
    try_get([&] { return file.get_float(kv.key); });
    try_get([&] { return file.get_bool(kv.key); });
    try_get([&] { return file.get_array(kv.key); });
  }
  volatile unsigned sink = 0;
  for (const auto& t : file.tensors()) {
    if (file.tensor(t.name) != &t) finding("tensor() does not return the tensor's info");
    if (t.nbytes > 0)
      sink = sink + std::to_integer<unsigned>(t.data[0]) +
             std::to_integer<unsigned>(t.data[t.nbytes - 1]);
  }
}

void rewrite_and_reparse(const GgufFile& file, const hearth::GgufOpenOptions& options) {
  std::vector<std::byte> copy;
  try {
    hearth::GgufWriter writer(file.alignment());
    for (const auto& kv : file.metadata()) writer.set(kv.key, kv.value);
    for (const auto& t : file.tensors())
      writer.add_tensor(t.name, t.type, t.ne, std::span(t.data, t.nbytes), options);
    copy = writer.to_bytes();
  } catch (const GgufError&) {
    return;  // the writer is stricter than the reader (names of at most 63 bytes, ...)
  }
  try {
    const GgufFile again = GgufFile::parse(copy, "rewritten", options);
    if (again.metadata().size() < file.metadata().size() ||
        again.tensors().size() != file.tensors().size())
      finding("the rewritten file lost keys or tensors");
    for (const auto& t : file.tensors()) {
      const auto* u = again.tensor(t.name);
      if (!u || u->nbytes != t.nbytes || u->type != t.type || u->ne != t.ne)
        finding("a rewritten tensor differs");
    }
  } catch (const GgufError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    finding("the writer's output does not parse");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hearth::GgufOpenOptions options = fuzz_options();
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const GgufFile file = GgufFile::parse(bytes, "fuzz-input", options);
    read_everything(file);
    rewrite_and_reparse(file, options);
  } catch (const GgufError&) {
    // The expected outcome for malformed input.
  }
  return 0;
}
