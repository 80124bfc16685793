#include "attention_slots.hpp"

#include <hearth/sdk/kv_quant.hpp>
#include <hearth/sdk/plugin.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(HEARTH_GPU_HIP)
#include <hip/hip_version.h>
#endif

#include "attention_slots_kernel.hpp"
#include "backend_name.hpp"
#include "gpu_device.hpp"
#include "op_validation.hpp"

namespace hearth::backend_gpu {
namespace {

using sdk::PluginError;

// Queries per launch: bounds the scores scratch (queries x query heads x slots floats).
constexpr int64_t kQueriesPerLaunch = 64;
// Dynamic shared memory every CUDA and HIP target grants without opting in.
constexpr size_t kMaxSharedBytes = 48 * 1024;

std::string where() { return std::string(kBackendName) + ": ATTENTION_SLOTS: "; }

uint64_t align16(uint64_t x) { return (x + 15) & ~uint64_t{15}; }

// Whether p is memory of some GPU (its records are then gathered by device copies).
bool is_device_memory(const void* p) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, p) != cudaSuccess) {
    static_cast<void>(cudaGetLastError());  // older runtimes answer plain host memory with an error
    return false;
  }
#if defined(HEARTH_GPU_HIP) && HIP_VERSION_MAJOR < 6
  return attributes.memoryType == hipMemoryTypeDevice || attributes.isManaged;
#else
  return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
#endif
}

// The table is data the kernel follows: every tier must be well formed before any byte of it
// is gathered.
void check_slot_table(const std::vector<hearth_kv_slot_head>& table, const hearth_op& op) {
  uint64_t max_slots = 0;
  for (size_t g = 0; g < table.size(); ++g) {
    const hearth_kv_slot_head& head = table[g];
    const std::string at = where() + "KV head " + std::to_string(g) + ": ";
    if (head.n_tiers > HEARTH_KV_MAX_TIERS)
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        at + "n_tiers = " + std::to_string(head.n_tiers) + " (at most " +
                            std::to_string(HEARTH_KV_MAX_TIERS) + ")");
    uint64_t slots = 0;
    for (uint32_t t = 0; t < head.n_tiers; ++t) {
      const hearth_kv_slot_tier& tier = head.tiers[t];
      if (!sdk::kv_bits_valid(tier.bits))
        throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                          at + "tier " + std::to_string(t) + " has bits = " +
                              std::to_string(tier.bits) + "; slots hold 16, 8, 4, 2 or 1 bits");
      if (tier.n_slots > 0 && (!tier.positions || !tier.k || !tier.v))
        throw PluginError(HEARTH_ERR_INVALID_ARGUMENT, at + "tier " + std::to_string(t) + " has " +
                                                           std::to_string(tier.n_slots) +
                                                           " slots but a null pointer");
      slots += tier.n_slots;
    }
    max_slots = std::max(max_slots, slots);
  }
  if (max_slots > UINT32_MAX)
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      where() + "a KV head holds " + std::to_string(max_slots) + " slots");
  if (op.n_src == 4 && static_cast<uint64_t>(op.src[3].ne[0]) < max_slots)
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      where() + "attention mass src[3] " + describe_tensor(op.src[3]) +
                          " has room for " + std::to_string(op.src[3].ne[0]) +
                          " slots per KV head but a head holds " + std::to_string(max_slots));
}

void check(cudaError_t status, const char* what) { check_runtime(status, where() + what); }

}  // namespace

void SlotAttention::PinnedDeleter::operator()(void* p) const noexcept {
  static_cast<void>(cudaFreeHost(p));
}

std::optional<std::string> SlotAttention::unsupported_reason(const hearth_op& op) {
  const int64_t head_dim = op.src[0].ne[0];
  const int64_t n_head_kv = op.src[1].ne[0];
  if (head_dim > 256)
    return where() + "head_dim " + std::to_string(head_dim) +
           " is larger than the 256 this backend's slot kernel holds per head";
  const int64_t group = n_head_kv > 0 ? op.src[0].ne[1] / n_head_kv : 0;
  if (attention_slots_shared_bytes(group, head_dim) > kMaxSharedBytes)
    return where() + std::to_string(group) + " query heads per KV head of head_dim " +
           std::to_string(head_dim) + " need more than 48 KiB of shared memory per block";
  return std::nullopt;
}

void SlotAttention::reserve(DeviceScratch& scratch, uint64_t bytes) {
  if (scratch.bytes >= bytes) return;
  // Grow geometrically so a cache that fills token by token reallocates O(log n) times.
  const uint64_t want = std::max(bytes, scratch.bytes * 3 / 2);
  if (scratch.data) device_.free(scratch.data);
  scratch = {};
  scratch.data = device_.alloc(want);
  scratch.bytes = want;
}

void SlotAttention::reserve_pinned(uint64_t bytes) {
  if (pinned_bytes_ >= bytes) return;
  const uint64_t want = std::max(bytes, pinned_bytes_ * 3 / 2);
  pinned_.reset();
  pinned_bytes_ = 0;
  void* p = nullptr;
  check(cudaHostAlloc(&p, want, cudaHostAllocDefault), "pinning host memory for the slots");
  pinned_.reset(static_cast<uint8_t*>(p));
  pinned_bytes_ = want;
}

void SlotAttention::run(const hearth_op& op, cudaStream_t stream) {
  const hearth_tensor& q = op.src[0];
  const int64_t n_head_kv = op.src[1].ne[0];
  const int64_t n_q = q.ne[2];
  const bool with_mass = op.n_src == 4;
  // The staging buffers may still feed the previous op's copies and kernel.
  check(cudaStreamSynchronize(stream), "waiting for earlier work");

  std::vector<hearth_kv_slot_head> table(static_cast<size_t>(n_head_kv));
  check(cudaMemcpy(table.data(), op.src[1].data, table.size() * sizeof(hearth_kv_slot_head),
                   cudaMemcpyDefault),
        "reading the slot table");
  check_slot_table(table, op);

  const auto head_dim = static_cast<uint32_t>(q.ne[0]);
  const auto group_size = static_cast<uint32_t>(op.iparams[0]);
  std::vector<SlotHeadOnDevice> heads(table.size());
  uint64_t offset = align16(heads.size() * sizeof(SlotHeadOnDevice));
  int64_t max_slots = 0;
  struct Piece {
    const void* from;
    uint64_t to, bytes;
  };
  std::vector<Piece> pieces;
  for (size_t g = 0; g < table.size(); ++g) {
    SlotHeadOnDevice& head = heads[g];
    head = {};
    head.n_tiers = table[g].n_tiers;
    for (uint32_t t = 0; t < head.n_tiers; ++t) {
      const hearth_kv_slot_tier& from = table[g].tiers[t];
      SlotTierOnDevice& tier = head.tiers[t];
      tier.bits = from.bits;
      tier.n_slots = from.n_slots;
      tier.first_slot = head.n_slots;
      tier.record_bytes =
          static_cast<uint32_t>(hearth_kv_record_bytes(from.bits, head_dim, group_size));
      head.n_slots += from.n_slots;
      if (from.n_slots == 0) continue;
      const uint64_t record_bytes = uint64_t{tier.record_bytes} * from.n_slots;
      tier.positions = offset;
      pieces.push_back({from.positions, offset, uint64_t{from.n_slots} * sizeof(int32_t)});
      offset = align16(offset + pieces.back().bytes);
      tier.k = offset;
      pieces.push_back({from.k, offset, record_bytes});
      offset = align16(offset + record_bytes);
      tier.v = offset;
      pieces.push_back({from.v, offset, record_bytes});
      offset = align16(offset + record_bytes);
    }
    max_slots = std::max<int64_t>(max_slots, head.n_slots);
  }

  reserve(staging_, offset);
  reserve_pinned(offset);
  std::memcpy(pinned_.get(), heads.data(), heads.size() * sizeof(SlotHeadOnDevice));
  std::vector<const Piece*> on_device;
  for (const Piece& piece : pieces) {
    if (is_device_memory(piece.from))
      on_device.push_back(&piece);
    else
      std::memcpy(pinned_.get() + piece.to, piece.from, piece.bytes);
  }
  auto* staging = static_cast<uint8_t*>(staging_.data);
  check(cudaMemcpyAsync(staging, pinned_.get(), offset, cudaMemcpyHostToDevice, stream),
        "copying the slots to the device");
  for (const Piece* piece : on_device)
    check(cudaMemcpyAsync(staging + piece->to, piece->from, piece->bytes, cudaMemcpyDeviceToDevice,
                          stream),
          "gathering the slots");

  const int64_t chunk = std::min(n_q, kQueriesPerLaunch);
  const int64_t mass_stride = with_mass ? op.src[3].ne[0] : 0;
  reserve(scores_,
          static_cast<uint64_t>(std::max<int64_t>(1, chunk * q.ne[1] * max_slots)) * sizeof(float));
  if (with_mass)
    reserve(mass_, static_cast<uint64_t>(std::max<int64_t>(1, n_q * n_head_kv * mass_stride)) *
                       sizeof(float));

  AttentionSlotsLaunch launch{};
  launch.staging = staging;
  launch.q = q;
  launch.dst = op.dst;
  launch.pos_q = static_cast<const int32_t*>(op.src[2].data);
  launch.mass = with_mass ? static_cast<float*>(mass_.data) : nullptr;
  launch.mass_stride = mass_stride;
  launch.scores = static_cast<float*>(scores_.data);
  launch.max_slots = std::max<int64_t>(1, max_slots);
  launch.n_head_kv = n_head_kv;
  launch.group_size = group_size;
  launch.scale = op.fparams[0];
  for (int64_t first = 0; first < n_q; first += chunk) {
    launch.q_begin = first;
    launch.n_q = std::min(chunk, n_q - first);
    check(launch_attention_slots_kernel(launch, stream), "kernel launch");
  }

  if (with_mass) {
    const hearth_tensor& mass = op.src[3];
    const auto row_bytes = static_cast<uint64_t>(mass_stride) * sizeof(float);
    const bool dense =
        mass.nb[1] == static_cast<int64_t>(row_bytes) && mass.nb[2] == mass.nb[1] * n_head_kv;
    if (dense)
      check(cudaMemcpyAsync(mass.data, mass_.data, row_bytes * n_head_kv * n_q, cudaMemcpyDefault,
                            stream),
            "copying the attention mass out");
    for (int64_t i = 0; i < (dense ? 0 : n_q); ++i)
      for (int64_t g = 0; g < n_head_kv; ++g)
        check(cudaMemcpyAsync(static_cast<char*>(mass.data) + g * mass.nb[1] + i * mass.nb[2],
                              static_cast<const char*>(mass_.data) +
                                  (i * n_head_kv + g) * static_cast<int64_t>(row_bytes),
                              row_bytes, cudaMemcpyDefault, stream),
              "copying the attention mass out");
  }
  check(cudaStreamSynchronize(stream), "running the kernel");
}

}  // namespace hearth::backend_gpu
