#include "quantize/quantize_rows.hpp"

#include <hearth/error.hpp>

#include <algorithm>
#include <exception>
#include <thread>

namespace hearth::detail {

std::vector<std::byte> quantize_rows(const FormatPlugin& format, hearth_dtype target,
                                     const float* values, int64_t n_rows, int64_t n_per_row) {
  const auto* type = format.find(target);
  if (!type || type->block_elems == 0 || n_per_row % type->block_elems != 0)
    throw Error("cannot quantize rows of " + std::to_string(n_per_row) + " values to type " +
                std::to_string(target) + ": not a whole number of its blocks");
  const int64_t row_bytes = n_per_row / type->block_elems * type->block_bytes;
  std::vector<std::byte> out(static_cast<size_t>(n_rows * row_bytes));
  // Format plugins keep no state between quantize calls (sdk/README.md), so threads may share one.
  constexpr int64_t kMinRowsPerThread = 16;
  const auto n_threads = static_cast<int64_t>(
      std::clamp(std::min<int64_t>(std::thread::hardware_concurrency(), n_rows / kMinRowsPerThread),
                 int64_t{1}, int64_t{16}));
  const int64_t per_thread = (n_rows + n_threads - 1) / n_threads;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n_threads));
  {
    std::vector<std::jthread> workers;
    for (int64_t i = 0; i < n_threads; ++i) {
      const int64_t first = i * per_thread;
      const int64_t count = std::min(per_thread, n_rows - first);
      if (count <= 0) break;
      workers.emplace_back([&, i, first, count] {
        try {
          format.quantize(target, values + first * n_per_row, out.data() + first * row_bytes, count,
                          n_per_row, nullptr);
        } catch (...) {
          errors[static_cast<size_t>(i)] = std::current_exception();
        }
      });
    }
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

}  // namespace hearth::detail
