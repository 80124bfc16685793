/* Hearth plugin contract: the C ABI between libhearth and every plugin.
 *
 * Only plain C types cross this boundary: fixed-width integers, const char*, opaque
 * handles and structs of function pointers. No std::string, no exceptions, no
 * allocator mismatch: a plugin may be built by another compiler or standard library.
 *
 * Versioning. HEARTH_ABI_MAJOR must match exactly; the registry refuses any other
 * major and names both versions. Within one major, structs only grow at the end and
 * each carries its struct_size, so the host reads a member only when the plugin's
 * struct is large enough to hold it (and the pointer is non-null).
 *
 * Errors cross as hearth_status* values: NULL means success, anything else was made
 * with host->status_create() and is released by the host. "Unsupported" is an
 * answer (HEARTH_ERR_UNSUPPORTED with a reason), not a failure.
 */
#ifndef HEARTH_SDK_ABI_H
#define HEARTH_SDK_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HEARTH_ABI_MAJOR 1u
#define HEARTH_ABI_MINOR 3u /* 1: HEARTH_OP_COPY, F16 K/V in ATTENTION; 2: ATTENTION_SLOTS,
                              hearth_kv_view.n_query_heads/head_dim/group_size; 3: CS256 blob,
                              hearth_format_api.encode/validate */

/* The one symbol every plugin exports (see HEARTH_PLUGIN_EXPORT). */
#define HEARTH_PLUGIN_ENTRY_SYMBOL "hearth_plugin_entry"

#if defined(_WIN32)
#define HEARTH_PLUGIN_EXPORT __declspec(dllexport)
#else
#define HEARTH_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------- status */

typedef enum hearth_status_code {
  HEARTH_OK = 0,
  HEARTH_ERR_INVALID_ARGUMENT = 1,
  HEARTH_ERR_UNSUPPORTED = 2,
  HEARTH_ERR_OUT_OF_MEMORY = 3,
  HEARTH_ERR_DEVICE = 4,
  HEARTH_ERR_IO = 5,
  HEARTH_ERR_VERSION_MISMATCH = 6,
  HEARTH_ERR_INTERNAL = 7
} hearth_status_code;

/* Opaque; owned by the host. NULL means success. */
typedef struct hearth_status hearth_status;

typedef enum hearth_log_level {
  HEARTH_LOG_DEBUG = 0,
  HEARTH_LOG_INFO = 1,
  HEARTH_LOG_WARN = 2,
  HEARTH_LOG_ERROR = 3
} hearth_log_level;

/* Services the host offers to plugins. Passed to every plugin's create(); valid until the
 * plugin's instance is destroyed. */
typedef struct hearth_host_api {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  void* context; /* the host's, passed back to log() */
  /* Makes a status the host will release. Never returns NULL for code != HEARTH_OK. */
  hearth_status* (*status_create)(hearth_status_code code, const char* message);
  void (*log)(const struct hearth_host_api* host, hearth_log_level level, const char* plugin_name,
              const char* message);
} hearth_host_api;

/* A key/value option, e.g. {"threads", "4"}. Strings live for the duration of the call. */
typedef struct hearth_option {
  const char* key;
  const char* value;
} hearth_option;

/* ---------------------------------------------------------------- dtypes */

/* Element types. Ids below 1024 are GGUF's on-disk ggml type ids and mean exactly what
 * GGUF means by them; ids from 1024 on are Hearth's own formats (NF4, CS256, ...). */
typedef uint32_t hearth_dtype;
#define HEARTH_DTYPE_F32 0u
#define HEARTH_DTYPE_F16 1u
#define HEARTH_DTYPE_Q4_0 2u
#define HEARTH_DTYPE_Q4_1 3u
#define HEARTH_DTYPE_Q5_0 6u
#define HEARTH_DTYPE_Q5_1 7u
#define HEARTH_DTYPE_Q8_0 8u
#define HEARTH_DTYPE_Q8_1 9u
#define HEARTH_DTYPE_Q2_K 10u
#define HEARTH_DTYPE_Q3_K 11u
#define HEARTH_DTYPE_Q4_K 12u
#define HEARTH_DTYPE_Q5_K 13u
#define HEARTH_DTYPE_Q6_K 14u
#define HEARTH_DTYPE_Q8_K 15u
#define HEARTH_DTYPE_I8 24u
#define HEARTH_DTYPE_I16 25u
#define HEARTH_DTYPE_I32 26u
#define HEARTH_DTYPE_I64 27u
#define HEARTH_DTYPE_F64 28u
#define HEARTH_DTYPE_BF16 30u
#define HEARTH_DTYPE_FIRST_HEARTH 1024u
/* Hearth's own weight formats (layouts: plugins/format-nf4/README.md, plugins/format-cs256/README.md).
 * Other GGUF readers reject these ids as unknown types. */
#define HEARTH_DTYPE_NF4 1024u
#define HEARTH_DTYPE_CS256 1025u

/* NF4's code book, index = 4-bit code: bitsandbytes get_4bit_type("nf4")
 * (../shared/specs/nf4.md §1), each literal an exact float32. An initializer, so host tables,
 * std::array and CUDA device-local arrays all spell it once: `float t[16] = HEARTH_NF4_CODEBOOK;`.
 * Hearth's NF4 block: HEARTH_NF4_BLOCK_ELEMS weights in HEARTH_NF4_BLOCK_BYTES bytes
 * (plugins/format-nf4/README.md). */
#define HEARTH_NF4_BLOCK_ELEMS 64
#define HEARTH_NF4_BLOCK_BYTES 36
#define HEARTH_NF4_CODEBOOK                                                                  \
  {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,                  \
   -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,                \
   0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,    \
   0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f}

#define HEARTH_MAX_DIMS 4

/* A view of memory owned by someone else (a backend buffer, a mapped file).
 * ne[0] is the innermost, contiguous dimension (GGUF/ggml order); unused dims are 1.
 * nb[] are byte strides. For block formats nb[1] is the byte size of one row of blocks.
 * HEARTH_DTYPE_CS256: data is one whole CS256 blob (hearth_cs256_header below), ne = [n_in, n_out]
 * (logical), and nb[] have no meaning (rows have no fixed size). */
typedef struct hearth_tensor {
  void* data;
  hearth_dtype dtype;
  uint32_t n_dims;
  int64_t ne[HEARTH_MAX_DIMS];
  int64_t nb[HEARTH_MAX_DIMS];
} hearth_tensor;

/* ---------------------------------------------------------------- plugin kinds */

typedef enum hearth_plugin_kind {
  HEARTH_KIND_BACKEND = 1,
  HEARTH_KIND_FORMAT = 2,
  HEARTH_KIND_KV = 3
} hearth_plugin_kind;

/* ---------------------------------------------------------------- backend */

typedef enum hearth_device_type {
  HEARTH_DEVICE_CPU = 0,
  HEARTH_DEVICE_GPU = 1,
  HEARTH_DEVICE_IGPU = 2, /* integrated: shares host memory */
  HEARTH_DEVICE_ACCEL = 3
} hearth_device_type;

typedef struct hearth_device_info {
  uint32_t struct_size;
  hearth_device_type type;
  char name[64];         /* stable id used in configs: "cpu", "cuda:0", "hip:0" */
  char description[256]; /* human readable: the CPU model or GPU name */
  uint64_t memory_total; /* bytes */
  uint64_t memory_free;  /* bytes */
  uint32_t compute_units;
  uint32_t reserved;
} hearth_device_info;

/* Operations a llama-style decoder needs. Tensors are in ggml order (ne[0] innermost).
 * All activations are F32 unless stated.
 *
 * EMBEDDING  dst[n_embd, n_tok] = rows src[1] (I32 ids [n_tok]) of src[0] (table [n_embd, n_vocab]).
 * RMS_NORM   per row of src[0] [n, rows]: x / sqrt(mean(x^2) + fparams[0]); times src[1] [n] if
 *            n_src == 2 (the norm weight).
 * MATMUL     dst[n_out, n_tok] = W x: src[0] weight [n_in, n_out] (any dtype the backend takes),
 *            src[1] activations [n_in, n_tok]. Each dst element is the dot product of a weight row
 *            and an activation column.
 * ROPE       src[0] x [head_dim, n_heads, n_tok] rotated into dst (may alias src[0]); src[1] I32
 *            positions [n_tok]; optional src[2] F32 frequency factors [n_rot/2].
 *            iparams[0] n_rot, iparams[1] mode (HEARTH_ROPE_NORM / HEARTH_ROPE_NEOX);
 *            fparams[0] freq_base, fparams[1] freq_scale.
 * ATTENTION  causal softmax(q k^T * scale) v with grouped-query heads:
 *            src[0] q [head_dim, n_head, n_q], src[1] k [head_dim, n_head_kv, n_kv],
 *            src[2] v [head_dim, n_head_kv, n_kv], src[3] I32 query positions [n_q],
 *            src[4] I32 key positions [n_kv]. Query i sees key j iff pos_k[j] <= pos_q[i].
 *            dst [head_dim, n_head, n_q]; fparams[0] scale. Query head h reads KV head
 *            h / (n_head / n_head_kv). A query that sees no key yields zeros.
 *            k and v may both be F16 (a half-precision KV cache; a backend may refuse that through
 *            supports_op). Then the products follow ggml's non-flash attention: q is rounded to
 *            F16 before q k^T, and the softmax probabilities are rounded to F16 before p v; the
 *            dot products, the scores, the softmax and the accumulation stay F32.
 * SWIGLU     dst = silu(src[0]) * src[1], elementwise.
 * ADD        dst = src[0] + src[1]; src[1] may have ne[1] == 1 (broadcast over rows, a bias).
 * SOFTMAX    per row (ne[0]) of src[0]; fparams[0] scale applied before the max.
 * MUL        dst = src[0] * src[1]; src[1] may have ne[1] == 1 (broadcast over rows).
 * ATTENTION_SLOTS  the ATTENTION above over a policy-managed KV cache whose KV heads each hold
 *            their own slots, at mixed precision (hearth_kv_slot_head below):
 *            src[0] q [head_dim, n_head, n_q]; src[1] the table: data points to n_head_kv
 *            hearth_kv_slot_head (src[1].ne[0] = n_head_kv, dtype I8, the bytes are not tensor
 *            data); src[2] I32 query positions [n_q]; optional src[3] F32 attention mass out
 *            [max_slots, n_head_kv, n_q] (n_src == 4): element (s, g, i) is the probability query
 *            i gave slot s of KV head g, summed over the query heads of g's group; slots are
 *            numbered through the tiers in order; entries past a head's slot count are zeroed.
 *            dst [head_dim, n_head, n_q]; fparams[0] scale; iparams[0] group_size.
 *            The table, the positions and records it points to, and the mass may be host memory
 *            or the device's own (core keeps them in host memory; a GPU backend copies them);
 *            q, dst and the query positions are device memory as for every op.
 *            Query i sees slot s iff position(s) <= pos_q[i]. 16-bit slots follow ATTENTION's F16
 *            numerics; quantized slots are dequantized to F32 (HEARTH_KV_* layout below) and
 *            their probabilities stay F32.
 * COPY       dst = src[0] converted to dst's dtype, element by element; F32, F16 and BF16 each
 *            way (the same dtype copies). Same shape; either may be a strided view (rows
 *            contiguous, as for the other row-wise ops); dst must not overlap src[0]. Narrowing
 *            rounds to nearest even (ggml's conversions); widening is exact. Used to store keys
 *            and values computed in F32 into an F16 KV cache.
 */
typedef enum hearth_op_kind {
  HEARTH_OP_EMBEDDING = 1,
  HEARTH_OP_RMS_NORM = 2,
  HEARTH_OP_MATMUL = 3,
  HEARTH_OP_ROPE = 4,
  HEARTH_OP_ATTENTION = 5,
  HEARTH_OP_SWIGLU = 6,
  HEARTH_OP_ADD = 7,
  HEARTH_OP_SOFTMAX = 8,
  HEARTH_OP_MUL = 9,
  HEARTH_OP_COPY = 10,
  HEARTH_OP_ATTENTION_SLOTS = 11
} hearth_op_kind;

/* One slot record holds one token's head vector (its K, or its V) of head_dim values.
 * bits == 16: head_dim F16 values. bits 8, 4, 2, 1: group-wise asymmetric quantization
 * (../shared/specs/kv_policies.md §6.1): for each group of group_size consecutive channels an F16
 * scale then an F16 min (4 bytes per group), then head_dim codes of `bits` bits packed
 * least-significant first into bytes (code c of the record occupies bits [bits*c, bits*c+bits) of
 * the code area); value = code * scale + min. Record bytes: hearth_kv_record_bytes(). */
static inline uint64_t hearth_kv_record_bytes(uint32_t bits, uint32_t head_dim,
                                              uint32_t group_size) {
  if (bits == 16) return 2ull * head_dim;
  return 4ull * (head_dim / group_size) + ((uint64_t)head_dim * bits + 7) / 8;
}

/* Slots of one precision tier of one KV head: n_slots records of K and of V, back to back. */
typedef struct hearth_kv_slot_tier {
  uint32_t bits; /* 16, 8, 4, 2 or 1 */
  uint32_t n_slots;
  const int32_t* positions; /* absolute token position of each slot */
  const void* k;
  const void* v;
} hearth_kv_slot_tier;

#define HEARTH_KV_MAX_TIERS 5
typedef struct hearth_kv_slot_head {
  uint32_t n_tiers;
  uint32_t reserved;
  hearth_kv_slot_tier tiers[HEARTH_KV_MAX_TIERS];
} hearth_kv_slot_head;

#define HEARTH_ROPE_NORM 0 /* adjacent pairs (x[2i], x[2i+1]): GGUF llama */
#define HEARTH_ROPE_NEOX 2 /* half split (x[i], x[i + n_rot/2]): qwen2 */

#define HEARTH_OP_MAX_SRC 6

typedef struct hearth_op {
  uint32_t struct_size;
  uint32_t kind; /* a hearth_op_kind; a plain integer so an unknown value from a newer core is
                   data to reject, not an invalid enum */
  hearth_tensor dst;
  hearth_tensor src[HEARTH_OP_MAX_SRC];
  uint32_t n_src;
  int32_t iparams[8];
  float fparams[8];
} hearth_op;

/* A backend instance enumerates devices; an opened device is a stream of work on one of them.
 * Device memory is addressed by plain pointers (host pointers for CPU backends). */
typedef struct hearth_backend_api {
  uint32_t struct_size;
  uint32_t (*device_count)(void* backend);
  hearth_status* (*device_info)(void* backend, uint32_t index, hearth_device_info* out);
  hearth_status* (*open_device)(void* backend, uint32_t index, const hearth_option* options,
                                size_t n_options, void** out_device);
  void (*close_device)(void* device);
  hearth_status* (*alloc)(void* device, uint64_t bytes, void** out_ptr);
  void (*free)(void* device, void* ptr);
  hearth_status* (*copy_to_device)(void* device, void* dst, const void* src, uint64_t bytes);
  hearth_status* (*copy_to_host)(void* device, void* dst, const void* src, uint64_t bytes);
  hearth_status* (*synchronize)(void* device);
  /* NULL if the device can run op as described; HEARTH_ERR_UNSUPPORTED with a reason if not. */
  hearth_status* (*supports_op)(void* device, const hearth_op* op);
  hearth_status* (*run_op)(void* device, const hearth_op* op);
  /* Optional named extensions (may be NULL; may return NULL). */
  void* (*get_proc)(void* backend, const char* name);
} hearth_backend_api;

/* ---------------------------------------------------------------- weight format */

/* Where encode() puts its output: reserve(context, bytes) returns `bytes` writable bytes owned
 * by the host (valid until the call returns), or NULL when it cannot. Called at most once. */
typedef struct hearth_byte_sink {
  void* context;
  void* (*reserve)(void* context, uint64_t bytes);
} hearth_byte_sink;

typedef struct hearth_format_type {
  uint32_t struct_size;
  hearth_dtype dtype;
  char name[32];         /* "Q4_K" */
  uint32_t block_elems;  /* elements per block */
  uint32_t block_bytes;  /* bytes per block */
} hearth_format_type;

/* A storage format: block layouts, plus the scalar reference (de)quantizers every kernel for
 * the format is tested against. */
typedef struct hearth_format_api {
  uint32_t struct_size;
  uint32_t (*type_count)(void* format);
  hearth_status* (*type_info)(void* format, uint32_t index, hearth_format_type* out);
  /* n_elems must be a multiple of the type's block_elems. */
  hearth_status* (*dequantize)(void* format, hearth_dtype dtype, const void* src, float* dst,
                               int64_t n_elems);
  /* Quantizes n_rows rows of n_per_row values; importance (n_per_row floats) may be NULL. */
  hearth_status* (*quantize)(void* format, hearth_dtype dtype, const float* src, void* dst,
                             int64_t n_rows, int64_t n_per_row, const float* importance);
  /* ABI 1.3, variable-size types (CS256): read them only if struct_size covers them; NULL when
   * the format has none. A variable-size type lists block_bytes == 0 in hearth_format_type. */
  /* Encodes n_rows rows of n_per_row values (pruning them first when the options ask, e.g.
   * {"sparsity", "0.66"}, {"values", "f16"}, {"vec", "8"}); importance (n_per_row floats, e.g.
   * per-column activation norms) may be NULL. Writes the whole encoding into out->reserve(). */
  hearth_status* (*encode)(void* format, hearth_dtype dtype, const float* src, int64_t n_rows,
                           int64_t n_per_row, const float* importance,
                           const hearth_option* options, size_t n_options,
                           const struct hearth_byte_sink* out);
  /* Checks every invariant of an encoded tensor of `bytes` bytes that should hold n_rows rows
   * of n_per_row values; NULL when it is valid, HEARTH_ERR_INVALID_ARGUMENT naming the first
   * violation otherwise. Kernels may trust a tensor that passed. */
  hearth_status* (*validate)(void* format, hearth_dtype dtype, const void* data, uint64_t bytes,
                             int64_t n_rows, int64_t n_per_row);
} hearth_format_api;

/* ---------------------------------------------------------------- KV-cache policy */

/* One (layer, KV head) cache seen by a policy. Core owns all of it; slot i's position,
 * precision and statistics move together when core compacts the cache. */
typedef struct hearth_kv_view {
  uint32_t struct_size;
  uint32_t layer;
  uint32_t kv_head;
  uint32_t n_slots;
  uint32_t stats_per_slot;   /* as the policy asked for */
  const int32_t* positions;  /* absolute token position of each slot */
  uint8_t* bits;             /* precision tier of each slot: 16, 8, 4, 2 or 1; decide() may change */
  float* stats;              /* n_slots * stats_per_slot, zero for a new slot */
  int32_t newest_position;   /* position of the latest token */
  /* ABI 1.2 (read them only if struct_size covers them): */
  uint32_t n_query_heads; /* query heads sharing this KV head (GQA group), summed in the mass */
  uint32_t head_dim;
  uint32_t group_size;    /* channels per (scale, min) group of a quantized slot (HEARTH_KV_*) */
} hearth_kv_view;

typedef struct hearth_kv_budget {
  uint32_t struct_size;
  uint64_t budget_bytes;     /* for this (layer, KV head) */
  uint64_t slot_bytes[17];   /* bytes one slot takes at each tier, indexed by bits (0 unused) */
} hearth_kv_budget;

typedef struct hearth_kv_api {
  uint32_t struct_size;
  /* Per-session state, configured by options (e.g. {"recent", "0.5"}). */
  hearth_status* (*open)(void* policy, const hearth_option* options, size_t n_options,
                         void** out_state);
  void (*close)(void* state);
  uint32_t (*stats_per_slot)(void* state);
  /* After a step: attention_mass[i] is the probability mass slot i received from the step's
   * n_query_rows query rows, summed over the query heads of this KV head's group.
   * Hearth's core calls it once per query row (n_query_rows == 1) with view->newest_position set
   * to that row's position: slots with a larger position were not visible to it (mass 0), and
   * policies that weight rows (bias correction) see each row on its own. The step's new tokens
   * are already slots (bits 16, stats zero) when observe() runs. */
  hearth_status* (*observe)(void* state, hearth_kv_view* view, const float* attention_mass,
                            uint32_t n_query_rows);
  /* Decide which slots to drop (evict[i] = 1, zeroed by core before the call) and which tier
   * each keeps (view->bits) so the cache fits budget. Called once per step after observe().
   * A tier may only go down (information that is gone cannot come back): core refuses a raise. */
  hearth_status* (*decide)(void* state, hearth_kv_view* view, const hearth_kv_budget* budget,
                           uint8_t* evict);
} hearth_kv_api;

/* ---------------------------------------------------------------- descriptor */

/* What hearth_plugin_entry returns. The first three members never move: the registry reads
 * abi_major before anything else and refuses the plugin on a mismatch. */
typedef struct hearth_plugin_descriptor {
  uint32_t abi_major;
  uint32_t abi_minor;
  uint32_t struct_size;
  hearth_plugin_kind kind;
  const char* name;        /* unique per kind: "cpu", "gguf", "h2o" */
  const char* version;     /* the plugin's own version, "1.2.0" */
  const char* description; /* one line */
  /* Factory: makes the plugin instance; a failure refuses the plugin with its message. */
  hearth_status* (*create)(const hearth_host_api* host, void** out_instance);
  void (*destroy)(void* instance);
  /* hearth_backend_api, hearth_format_api or hearth_kv_api, by kind. */
  const void* api;
} hearth_plugin_descriptor;

typedef const hearth_plugin_descriptor* (*hearth_plugin_entry_fn)(void);

/* ---------------------------------------------------------------- CS256 blob */

/* The data of a HEARTH_DTYPE_CS256 tensor (../shared/specs/cs256.md §1, §5; layout and invariants:
 * plugins/format-cs256/README.md). Little-endian. A 64-byte header, then each array at the next
 * multiple of 64 bytes from the blob's start: RowPointers (uint32, m + 1), BlockIncrements
 * (uint8, or uint16 with HEARTH_CS256_FLAG_WIDE; m * blk_offset), Indices (uint8, nnz), Values
 * (nnz of value_dtype: F16, BF16 or I8), and for I8 values one F32 scale per row (m). Rows are
 * the n_out output neurons, columns the n_in inputs: W[i][256 t + Indices[k]] = Values[k]. */
#define HEARTH_CS256_MAGIC 0x36353243u /* "C256" */
#define HEARTH_CS256_VERSION 1u
#define HEARTH_CS256_FLAG_WIDE 1u /* uint16 increments: some tile holds more than 248 */
#define HEARTH_CS256_ALIGN 64u
#define HEARTH_CS256_TILE 256u

typedef struct hearth_cs256_header {
  uint32_t magic;
  uint32_t version;
  uint64_t total_bytes; /* the whole blob, header included, a multiple of 64 */
  uint32_t m;           /* rows (n_out) */
  uint32_t n;           /* columns (n_in) */
  uint32_t vec;         /* VecSize: every tile's count is a multiple of it (4, 8 or 16) */
  uint32_t value_dtype; /* HEARTH_DTYPE_F16, HEARTH_DTYPE_BF16 or HEARTH_DTYPE_I8 */
  uint32_t flags;
  uint32_t blk_offset; /* round_up(ceil(n / 256), 4): the row stride of BlockIncrements */
  uint64_t nnz;        /* stored entries, padding entries included */
  uint64_t reserved[2];
} hearth_cs256_header;

/* Byte offsets of the arrays from the blob's start. */
typedef struct hearth_cs256_layout {
  uint64_t row_pointers, increments, indices, values, scales, total_bytes;
} hearth_cs256_layout;

/* Fills out from the header's m, n, nnz, value_dtype and flags. Returns 0 when those fields are
 * out of range (an unknown value dtype, more than 256 entries per tile, nnz past 2^48), 1
 * otherwise. */
static inline int hearth_cs256_compute_layout(const hearth_cs256_header* h,
                                              hearth_cs256_layout* out) {
  const uint64_t a = HEARTH_CS256_ALIGN;
  uint64_t value_bytes, blk_per_row, blk_offset, at;
  if (h->value_dtype == HEARTH_DTYPE_F16 || h->value_dtype == HEARTH_DTYPE_BF16)
    value_bytes = 2;
  else if (h->value_dtype == HEARTH_DTYPE_I8)
    value_bytes = 1;
  else
    return 0;
  blk_per_row = ((uint64_t)h->n + HEARTH_CS256_TILE - 1) / HEARTH_CS256_TILE;
  if (h->nnz > (uint64_t)h->m * blk_per_row * HEARTH_CS256_TILE || h->nnz > (1ull << 48)) return 0;
  blk_offset = (blk_per_row + 3) / 4 * 4;
  at = a; /* after the header */
  out->row_pointers = at;
  at += ((uint64_t)h->m + 1) * 4;
  at = (at + a - 1) / a * a;
  out->increments = at;
  at += (uint64_t)h->m * blk_offset * ((h->flags & HEARTH_CS256_FLAG_WIDE) ? 2 : 1);
  at = (at + a - 1) / a * a;
  out->indices = at;
  at += h->nnz;
  at = (at + a - 1) / a * a;
  out->values = at;
  at += h->nnz * value_bytes;
  at = (at + a - 1) / a * a;
  out->scales = at;
  if (h->value_dtype == HEARTH_DTYPE_I8) at += (uint64_t)h->m * 4;
  out->total_bytes = (at + a - 1) / a * a;
  return 1;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HEARTH_SDK_ABI_H */
