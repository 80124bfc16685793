#include "op_validation.hpp"

#include <hearth/sdk/plugin.hpp>

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <utility>

#include "backend_name.hpp"
#include "dtype_info.hpp"
#include "tensor_view.hpp"

namespace hearth::backend_gpu {
namespace {

using sdk::PluginError;

std::string dtype_list(std::initializer_list<hearth_dtype> dtypes) {
  std::string out;
  for (auto d : dtypes) {
    if (!out.empty()) out += ", ";
    out += dtype_name(d);
  }
  return out;
}

// One op under inspection; builds messages that start with "<backend>: <OP>: ".
class Checker {
 public:
  explicit Checker(const hearth_op& op)
      : op_(op), prefix_(std::string(kBackendName) + ": " + op_name(raw_kind(op)) + ": ") {}

  [[noreturn]] void invalid(const std::string& what) const {
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT, prefix_ + what);
  }
  std::string unsupported(const std::string& what) const { return prefix_ + what; }

  const hearth_tensor& src(int i) const { return op_.src[i]; }
  const hearth_tensor& dst() const { return op_.dst; }

  void require_src_count(uint32_t min, uint32_t max, const char* expected) const {
    if (op_.n_src < min || op_.n_src > max)
      invalid("takes " + std::string(expected) + ", got n_src = " + std::to_string(op_.n_src));
  }

  // Dims and strides every tensor must have, whatever its dtype.
  void require_well_formed(const hearth_tensor& t, const std::string& role) const {
    if (t.n_dims < 1 || t.n_dims > HEARTH_MAX_DIMS)
      invalid(role + " has n_dims = " + std::to_string(t.n_dims) + "; it must be 1 to " +
              std::to_string(HEARTH_MAX_DIMS));
    for (uint32_t d = 0; d < HEARTH_MAX_DIMS; ++d) {
      if (t.ne[d] < 0)
        invalid(role + " has ne[" + std::to_string(d) + "] = " + std::to_string(t.ne[d]) +
                "; sizes cannot be negative");
      if (d >= t.n_dims && t.ne[d] != 1)
        invalid(role + " has n_dims = " + std::to_string(t.n_dims) + " but ne[" +
                std::to_string(d) + "] = " + std::to_string(t.ne[d]) + "; unused dims must be 1");
      if (t.nb[d] < 0)
        invalid(role + " has a negative stride nb[" + std::to_string(d) +
                "] = " + std::to_string(t.nb[d]));
    }
  }

  // nullopt if t's dtype is one of allowed; also checks its row layout.
  std::optional<std::string> require_dtype(const hearth_tensor& t, const std::string& role,
                                           std::initializer_list<hearth_dtype> allowed,
                                           const char* advice = "") const {
    require_well_formed(t, role);
    bool ok = false;
    for (auto d : allowed) ok = ok || d == t.dtype;
    if (!ok)
      return unsupported(role + " has dtype " + dtype_name(t.dtype) + "; the " + kBackendName +
                         " backend takes " + dtype_list(allowed) + " here" + advice);
    const DtypeLayout layout = dtype_layout(t.dtype);
    if (layout.block_elems == 1) {
      if (t.nb[0] != layout.block_bytes && t.ne[0] > 1)
        return unsupported(
            role + " " + describe_tensor(t) + " has nb[0] = " + std::to_string(t.nb[0]) + "; the " +
            kBackendName +
            " backend needs contiguous rows (nb[0] = " + std::to_string(layout.block_bytes) + ")");
      for (int d = 1; d < HEARTH_MAX_DIMS; ++d)
        if (t.nb[d] % layout.block_bytes != 0)
          invalid(role + " has nb[" + std::to_string(d) + "] = " + std::to_string(t.nb[d]) +
                  ", not a multiple of its element size " + std::to_string(layout.block_bytes));
    } else {
      if (t.ne[0] % layout.block_elems != 0)
        invalid(role + " " + describe_tensor(t) + ": ne[0] = " + std::to_string(t.ne[0]) +
                " is not a multiple of the block size " + std::to_string(layout.block_elems) +
                "; rows must hold whole blocks");
      const int64_t row_bytes = t.ne[0] / layout.block_elems * layout.block_bytes;
      if (t.ne[1] > 1 && t.nb[1] < row_bytes)
        invalid(role + " " + describe_tensor(t) + " has nb[1] = " + std::to_string(t.nb[1]) +
                ", less than one row of blocks (" + std::to_string(row_bytes) + " bytes)");
    }
    return std::nullopt;
  }

  void require_same_shape(const hearth_tensor& a, const std::string& role_a, const hearth_tensor& b,
                          const std::string& role_b) const {
    for (int d = 0; d < HEARTH_MAX_DIMS; ++d)
      if (a.ne[d] != b.ne[d])
        invalid(role_a + " " + describe_tensor(a) + " and " + role_b + " " + describe_tensor(b) +
                " must have the same shape");
  }

  void require_max_dims(const hearth_tensor& t, const std::string& role, int dims,
                        const char* layout) const {
    for (int d = dims; d < HEARTH_MAX_DIMS; ++d)
      if (t.ne[d] != 1)
        invalid(role + " " + describe_tensor(t) + " must be " + layout + " (ne[" +
                std::to_string(d) + "] must be 1)");
  }

  int32_t iparam(int index) const { return op_.iparams[index]; }
  uint32_t n_src() const { return op_.n_src; }

  void require_finite_param(int index, const char* name) const {
    if (!std::isfinite(op_.fparams[index]))
      invalid("fparams[" + std::to_string(index) + "] (" + name + ") is not finite");
  }

 private:
  const hearth_op& op_;
  std::string prefix_;
};

constexpr std::initializer_list<hearth_dtype> kF32 = {HEARTH_DTYPE_F32};
constexpr std::initializer_list<hearth_dtype> kFloats = {HEARTH_DTYPE_F32, HEARTH_DTYPE_F16,
                                                         HEARTH_DTYPE_BF16};
// The KV cache: F32, or F16 as llama.cpp keeps it (kernels_attention_f16.cu).
constexpr std::initializer_list<hearth_dtype> kCache = {HEARTH_DTYPE_F32, HEARTH_DTYPE_F16};
constexpr std::initializer_list<hearth_dtype> kI32 = {HEARTH_DTYPE_I32};
constexpr std::initializer_list<hearth_dtype> kI8 = {HEARTH_DTYPE_I8};
constexpr std::initializer_list<hearth_dtype> kWeights = {
    HEARTH_DTYPE_F32,  HEARTH_DTYPE_F16,  HEARTH_DTYPE_BF16, HEARTH_DTYPE_Q8_0, HEARTH_DTYPE_Q4_0,
    HEARTH_DTYPE_Q5_0, HEARTH_DTYPE_Q4_K, HEARTH_DTYPE_Q5_K, HEARTH_DTYPE_Q6_K};
// MATMUL also reads NF4 blocks (nf4_matmul.cu); EMBEDDING does not.
constexpr std::initializer_list<hearth_dtype> kMatmulWeights = {
    HEARTH_DTYPE_F32,  HEARTH_DTYPE_F16,  HEARTH_DTYPE_BF16, HEARTH_DTYPE_Q8_0, HEARTH_DTYPE_Q4_0,
    HEARTH_DTYPE_Q5_0, HEARTH_DTYPE_Q4_K, HEARTH_DTYPE_Q5_K, HEARTH_DTYPE_Q6_K, HEARTH_DTYPE_NF4};
constexpr const char* kConvertAdvice = " (convert the weight to one of these first)";

// Returns the first unsupported reason among the checks, in order.
#define HEARTH_GPU_RETURN_IF(expr)           \
  do {                                       \
    if (auto reason = (expr)) return reason; \
  } while (0)

std::optional<std::string> check_embedding(const Checker& c) {
  c.require_src_count(2, 2, "2 sources (table, ids)");
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(0), "table src[0]", kWeights, kConvertAdvice));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(1), "ids src[1]", kI32));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.dst(), "dst", kF32));
  c.require_max_dims(c.src(0), "table src[0]", 2, "[n_embd, n_vocab]");
  c.require_max_dims(c.src(1), "ids src[1]", 1, "[n_tok]");
  c.require_max_dims(c.dst(), "dst", 2, "[n_embd, n_tok]");
  if (c.dst().ne[0] != c.src(0).ne[0] || c.dst().ne[1] != c.src(1).ne[0])
    c.invalid("dst " + describe_tensor(c.dst()) + " must be [n_embd, n_tok] = [" +
              std::to_string(c.src(0).ne[0]) + ", " + std::to_string(c.src(1).ne[0]) +
              "] for table " + describe_tensor(c.src(0)) + " and ids " + describe_tensor(c.src(1)));
  return std::nullopt;
}

std::optional<std::string> check_rms_norm(const hearth_op& op, const Checker& c) {
  c.require_src_count(1, 2, "1 or 2 sources (x, optional weight)");
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(0), "x src[0]", kF32));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.dst(), "dst", kF32));
  if (op.n_src == 2) {
    HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(1), "weight src[1]", kF32));
    c.require_max_dims(c.src(1), "weight src[1]", 1, "[n]");
    if (c.src(1).ne[0] != c.src(0).ne[0])
      c.invalid("weight src[1] " + describe_tensor(c.src(1)) +
                " must have n = " + std::to_string(c.src(0).ne[0]) +
                " elements to match x src[0] " + describe_tensor(c.src(0)));
  }
  c.require_same_shape(c.dst(), "dst", c.src(0), "x src[0]");
  c.require_finite_param(0, "eps");
  if (op.fparams[0] < 0)
    c.invalid("fparams[0] (eps) is negative: " + std::to_string(op.fparams[0]));
  return std::nullopt;
}

std::optional<std::string> check_matmul(const Checker& c) {
  c.require_src_count(2, 2, "2 sources (weight, activations)");
  if (c.src(0).dtype == HEARTH_DTYPE_CS256)  // one blob: nb[] has no meaning (abi.h)
    c.require_well_formed(c.src(0), "weight src[0]");
  else
    HEARTH_GPU_RETURN_IF(
        c.require_dtype(c.src(0), "weight src[0]", kMatmulWeights, kConvertAdvice));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(1), "activations src[1]", kF32));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.dst(), "dst", kF32));
  c.require_max_dims(c.src(0), "weight src[0]", 2, "[n_in, n_out]");
  const auto& w = c.src(0);
  const auto& x = c.src(1);
  const auto& d = c.dst();
  if (x.ne[0] != w.ne[0])
    c.invalid("weight src[0] " + describe_tensor(w) + " and activations src[1] " +
              describe_tensor(x) + " disagree on n_in (ne[0]: " + std::to_string(w.ne[0]) + " vs " +
              std::to_string(x.ne[0]) + ")");
  if (d.ne[0] != w.ne[1] || d.ne[1] != x.ne[1] || d.ne[2] != x.ne[2] || d.ne[3] != x.ne[3])
    c.invalid("dst " + describe_tensor(d) + " must be [n_out = " + std::to_string(w.ne[1]) +
              ", n_tok = " + std::to_string(x.ne[1]) + "] for weight " + describe_tensor(w) +
              " and activations " + describe_tensor(x));
  return std::nullopt;
}

std::optional<std::string> check_rope(const hearth_op& op, const Checker& c) {
  c.require_src_count(2, 3, "2 or 3 sources (x, positions, optional frequency factors)");
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(0), "x src[0]", kF32));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(1), "positions src[1]", kI32));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.dst(), "dst", kF32));
  if (op.n_src == 3)
    HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(2), "frequency factors src[2]", kF32));
  const int mode = op.iparams[1];
  if (mode != HEARTH_ROPE_NORM && mode != HEARTH_ROPE_NEOX)
    return c.unsupported("rope mode " + std::to_string(mode) + " (iparams[1]); the " +
                         kBackendName + " backend takes NORM (0) and NEOX (2)");
  const auto& x = c.src(0);
  c.require_max_dims(x, "x src[0]", 3, "[head_dim, n_heads, n_tok]");
  c.require_same_shape(c.dst(), "dst", x, "x src[0]");
  c.require_max_dims(c.src(1), "positions src[1]", 1, "[n_tok]");
  if (c.src(1).ne[0] != x.ne[2])
    c.invalid("positions src[1] " + describe_tensor(c.src(1)) + " must have n_tok = " +
              std::to_string(x.ne[2]) + " entries for x " + describe_tensor(x));
  const int n_rot = op.iparams[0];
  if (n_rot <= 0 || n_rot % 2 != 0 || n_rot > x.ne[0])
    c.invalid("n_rot (iparams[0]) = " + std::to_string(n_rot) +
              " must be even, positive and at most head_dim = " + std::to_string(x.ne[0]));
  if (op.n_src == 3) {
    c.require_max_dims(c.src(2), "frequency factors src[2]", 1, "[n_rot/2]");
    if (c.src(2).ne[0] != n_rot / 2)
      c.invalid("frequency factors src[2] " + describe_tensor(c.src(2)) +
                " must have n_rot/2 = " + std::to_string(n_rot / 2) + " entries");
  }
  c.require_finite_param(0, "freq_base");
  c.require_finite_param(1, "freq_scale");
  if (op.fparams[0] <= 0)
    c.invalid("fparams[0] (freq_base) must be > 0 (10000 for llama), got " +
              std::to_string(op.fparams[0]));
  if (op.fparams[1] <= 0)
    c.invalid("fparams[1] (freq_scale) must be > 0 (1 for no scaling), got " +
              std::to_string(op.fparams[1]));
  return std::nullopt;
}

std::optional<std::string> check_attention(const Checker& c) {
  c.require_src_count(5, 5, "5 sources (q, k, v, query positions, key positions)");
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(0), "q src[0]", kF32));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(1), "k src[1]", kCache));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(2), "v src[2]", kCache));
  if (c.src(1).dtype != c.src(2).dtype)
    return std::string(kBackendName) + ": ATTENTION: k src[1] is " + dtype_name(c.src(1).dtype) +
           " and v src[2] is " + dtype_name(c.src(2).dtype) +
           "; the backend takes k and v of one type";
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(3), "query positions src[3]", kI32));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(4), "key positions src[4]", kI32));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.dst(), "dst", kF32));
  const auto& q = c.src(0);
  const auto& k = c.src(1);
  const auto& v = c.src(2);
  c.require_max_dims(q, "q src[0]", 3, "[head_dim, n_head, n_q]");
  c.require_max_dims(k, "k src[1]", 3, "[head_dim, n_head_kv, n_kv]");
  c.require_same_shape(v, "v src[2]", k, "k src[1]");
  c.require_same_shape(c.dst(), "dst", q, "q src[0]");
  if (k.ne[0] != q.ne[0])
    c.invalid("q src[0] " + describe_tensor(q) + " and k src[1] " + describe_tensor(k) +
              " disagree on head_dim (ne[0])");
  if (k.ne[1] < 1 || q.ne[1] % k.ne[1] != 0)
    c.invalid("n_head = " + std::to_string(q.ne[1]) + " (q " + describe_tensor(q) +
              ") is not a multiple of n_head_kv = " + std::to_string(k.ne[1]) + " (k " +
              describe_tensor(k) + ")");
  c.require_max_dims(c.src(3), "query positions src[3]", 1, "[n_q]");
  c.require_max_dims(c.src(4), "key positions src[4]", 1, "[n_kv]");
  if (c.src(3).ne[0] != q.ne[2])
    c.invalid("query positions src[3] " + describe_tensor(c.src(3)) + " must have n_q = " +
              std::to_string(q.ne[2]) + " entries for q " + describe_tensor(q));
  if (c.src(4).ne[0] != k.ne[2])
    c.invalid("key positions src[4] " + describe_tensor(c.src(4)) + " must have n_kv = " +
              std::to_string(k.ne[2]) + " entries for k " + describe_tensor(k));
  c.require_finite_param(0, "scale");
  return std::nullopt;
}

std::optional<std::string> check_copy(const Checker& c) {
  c.require_src_count(1, 1, "1 source");
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(0), "src[0]", kFloats));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.dst(), "dst", kFloats));
  c.require_same_shape(c.dst(), "dst", c.src(0), "src[0]");
  return std::nullopt;
}

std::optional<std::string> check_attention_slots(const Checker& c) {
  c.require_src_count(3, 4,
                      "3 or 4 sources (q, the slot table, query positions[, attention mass out])");
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(0), "q src[0]", kF32));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(1), "slot table src[1]", kI8));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(2), "query positions src[2]", kI32));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.dst(), "dst", kF32));
  const auto& q = c.src(0);
  c.require_max_dims(q, "q src[0]", 3, "[head_dim, n_head, n_q]");
  c.require_max_dims(c.src(1), "slot table src[1]", 1, "[n_head_kv]");
  c.require_same_shape(c.dst(), "dst", q, "q src[0]");
  const int64_t n_head_kv = c.src(1).ne[0];
  if (n_head_kv < 1 || q.ne[1] % n_head_kv != 0)
    c.invalid("n_head = " + std::to_string(q.ne[1]) + " (q " + describe_tensor(q) +
              ") is not a multiple of n_head_kv = " + std::to_string(n_head_kv) +
              " (the slot table's ne[0])");
  c.require_max_dims(c.src(2), "query positions src[2]", 1, "[n_q]");
  if (c.src(2).ne[0] != q.ne[2])
    c.invalid("query positions src[2] " + describe_tensor(c.src(2)) + " must have n_q = " +
              std::to_string(q.ne[2]) + " entries for q " + describe_tensor(q));
  const int64_t group_size = c.iparam(0);
  if (group_size < 1 || q.ne[0] % group_size != 0)
    c.invalid("group_size iparams[0] = " + std::to_string(group_size) +
              " must be >= 1 and divide head_dim = " + std::to_string(q.ne[0]));
  if (c.n_src() == 4) {
    const auto& mass = c.src(3);
    HEARTH_GPU_RETURN_IF(c.require_dtype(mass, "attention mass src[3]", kF32));
    c.require_max_dims(mass, "attention mass src[3]", 3, "[max_slots, n_head_kv, n_q]");
    if (mass.ne[1] != n_head_kv || mass.ne[2] != q.ne[2])
      c.invalid("attention mass src[3] " + describe_tensor(mass) + " must be [max_slots, " +
                std::to_string(n_head_kv) + ", " + std::to_string(q.ne[2]) + "]");
  }
  c.require_finite_param(0, "scale");
  return std::nullopt;
}

std::optional<std::string> check_elementwise(const Checker& c, bool broadcast) {
  c.require_src_count(2, 2, "2 sources");
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(0), "src[0]", kF32));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(1), "src[1]", kF32));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.dst(), "dst", kF32));
  c.require_same_shape(c.dst(), "dst", c.src(0), "src[0]");
  if (!broadcast) {
    c.require_same_shape(c.src(1), "src[1]", c.src(0), "src[0]");
    return std::nullopt;
  }
  bool fits = c.src(1).ne[0] == c.src(0).ne[0];
  for (int d = 1; d < HEARTH_MAX_DIMS; ++d)
    fits = fits && (c.src(1).ne[d] == c.src(0).ne[d] || c.src(1).ne[d] == 1);
  if (!fits)
    c.invalid("src[1] " + describe_tensor(c.src(1)) + " cannot be broadcast to src[0] " +
              describe_tensor(c.src(0)) +
              ": ne[0] must match and every other dim must match or be 1");
  return std::nullopt;
}

std::optional<std::string> check_softmax(const Checker& c) {
  c.require_src_count(1, 1, "1 source");
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.src(0), "src[0]", kF32));
  HEARTH_GPU_RETURN_IF(c.require_dtype(c.dst(), "dst", kF32));
  c.require_same_shape(c.dst(), "dst", c.src(0), "src[0]");
  c.require_finite_param(0, "scale");
  return std::nullopt;
}

#undef HEARTH_GPU_RETURN_IF

// Whether the byte extents the two views can touch intersect (empty views touch nothing).
bool overlapping(const hearth_tensor& a, const hearth_tensor& b) {
  const auto extent = [](const hearth_tensor& t) -> std::pair<uintptr_t, uintptr_t> {
    const auto first = reinterpret_cast<uintptr_t>(t.data);
    uint64_t bytes = static_cast<uint64_t>(dtype_layout(t.dtype).block_bytes);
    for (int d = 0; d < HEARTH_MAX_DIMS; ++d) {
      if (t.ne[d] <= 0) return {first, first};
      bytes += static_cast<uint64_t>(t.ne[d] - 1) * static_cast<uint64_t>(t.nb[d]);
    }
    return {first, first + bytes};
  };
  const auto [a_first, a_last] = extent(a);
  const auto [b_first, b_last] = extent(b);
  return a_first < b_last && b_first < a_last;
}

void check_data_pointer(const hearth_op& op, const hearth_tensor& t, const std::string& role) {
  if (element_count(t) == 0) return;
  const std::string where = std::string(kBackendName) + ": " + op_name(raw_kind(op)) + ": " + role +
                            " " + describe_tensor(t);
  if (t.data == nullptr) throw PluginError(HEARTH_ERR_INVALID_ARGUMENT, where + " has no data");
  const DtypeLayout layout = dtype_layout(t.dtype);
  if (layout.block_elems == 1 &&
      reinterpret_cast<uintptr_t>(t.data) % static_cast<uintptr_t>(layout.block_bytes) != 0)
    throw PluginError(
        HEARTH_ERR_INVALID_ARGUMENT,
        where + " data is not aligned to its element size " + std::to_string(layout.block_bytes));
}

}  // namespace

std::string op_name(uint32_t kind) {
  switch (kind) {
    case HEARTH_OP_EMBEDDING:
      return "EMBEDDING";
    case HEARTH_OP_RMS_NORM:
      return "RMS_NORM";
    case HEARTH_OP_MATMUL:
      return "MATMUL";
    case HEARTH_OP_ROPE:
      return "ROPE";
    case HEARTH_OP_ATTENTION:
      return "ATTENTION";
    case HEARTH_OP_ATTENTION_SLOTS:
      return "ATTENTION_SLOTS";
    case HEARTH_OP_SWIGLU:
      return "SWIGLU";
    case HEARTH_OP_ADD:
      return "ADD";
    case HEARTH_OP_SOFTMAX:
      return "SOFTMAX";
    case HEARTH_OP_MUL:
      return "MUL";
    case HEARTH_OP_COPY:
      return "COPY";
    default:
      return "op " + std::to_string(kind);
  }
}

uint32_t raw_kind(const hearth_op& op) {
  static_assert(sizeof(op.kind) == sizeof(uint32_t));
  uint32_t kind;
  std::memcpy(&kind, &op.kind, sizeof kind);
  return kind;
}

std::string describe_tensor(const hearth_tensor& t) {
  const uint32_t dims = t.n_dims >= 1 && t.n_dims <= HEARTH_MAX_DIMS ? t.n_dims : HEARTH_MAX_DIMS;
  std::string out = "[";
  for (uint32_t d = 0; d < dims; ++d) {
    if (d) out += ", ";
    out += std::to_string(t.ne[d]);
  }
  return out + "] " + dtype_name(t.dtype);
}

std::optional<std::string> check_op(const hearth_op& op) {
  if (op.struct_size < sizeof(hearth_op))
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      std::string(kBackendName) + ": op struct_size " +
                          std::to_string(op.struct_size) +
                          " is smaller than this backend's hearth_op (" +
                          std::to_string(sizeof(hearth_op)) + " bytes)");
  if (op.n_src > HEARTH_OP_MAX_SRC)
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      std::string(kBackendName) + ": " + op_name(raw_kind(op)) +
                          ": n_src = " + std::to_string(op.n_src) + " exceeds HEARTH_OP_MAX_SRC (" +
                          std::to_string(HEARTH_OP_MAX_SRC) + ")");
  const Checker c(op);
  switch (raw_kind(op)) {
    case HEARTH_OP_EMBEDDING:
      return check_embedding(c);
    case HEARTH_OP_RMS_NORM:
      return check_rms_norm(op, c);
    case HEARTH_OP_MATMUL:
      return check_matmul(c);
    case HEARTH_OP_ROPE:
      return check_rope(op, c);
    case HEARTH_OP_ATTENTION:
      return check_attention(c);
    case HEARTH_OP_ATTENTION_SLOTS:
      return check_attention_slots(c);
    case HEARTH_OP_SWIGLU:
      return check_elementwise(c, false);
    case HEARTH_OP_ADD:
      return check_elementwise(c, true);
    case HEARTH_OP_SOFTMAX:
      return check_softmax(c);
    case HEARTH_OP_MUL:
      return check_elementwise(c, true);
    case HEARTH_OP_COPY:
      return check_copy(c);
    default:
      return std::string(kBackendName) + ": " + op_name(raw_kind(op)) +
             " is not an op this backend knows (it runs EMBEDDING, RMS_NORM, MATMUL, ROPE, "
             "ATTENTION, ATTENTION_SLOTS, SWIGLU, ADD, SOFTMAX, MUL, COPY)";
  }
}

void check_op_data(const hearth_op& op) {
  check_data_pointer(op, op.dst, "dst");
  for (uint32_t i = 0; i < op.n_src; ++i)
    check_data_pointer(op, op.src[i], "src[" + std::to_string(i) + "]");
  if (raw_kind(op) == HEARTH_OP_COPY && overlapping(op.dst, op.src[0]))
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      std::string(kBackendName) + ": COPY: dst " + describe_tensor(op.dst) +
                          " overlaps src[0] " + describe_tensor(op.src[0]) +
                          "; copy through a separate buffer (elements would be read after being "
                          "overwritten)");
}

void check_embedding_ids(const hearth_op& op, const std::vector<int32_t>& ids) {
  const int64_t n_vocab = op.src[0].ne[1];
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= n_vocab)
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT, std::string(kBackendName) +
                                                         ": EMBEDDING: ids[" + std::to_string(i) +
                                                         "] = " + std::to_string(ids[i]) +
                                                         " is outside the table's vocabulary [0, " +
                                                         std::to_string(n_vocab) + ")");
}

}  // namespace hearth::backend_gpu
