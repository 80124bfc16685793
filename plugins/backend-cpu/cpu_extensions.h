/* Named extensions of the cpu backend, reached through hearth_backend_api.get_proc(backend, name).
 * They are for tests and diagnostics; nothing in the engine depends on them. */
#ifndef HEARTH_BACKEND_CPU_EXTENSIONS_H
#define HEARTH_BACKEND_CPU_EXTENSIONS_H

#include <stdint.h>

/* uint32_t fn(void* device): threads the opened device runs ops with (the calling thread
 * included). device is the handle open_device returned. */
#define HEARTH_CPU_PROC_DEVICE_THREADS "hearth_cpu_device_threads"
typedef uint32_t (*hearth_cpu_device_threads_fn)(void* device);

/* const char* fn(void* device): what runs F32 matmuls of several tokens: "oneDNN" or
 * "plain loop". The string is static. */
#define HEARTH_CPU_PROC_PREFILL_MATMUL "hearth_cpu_prefill_matmul"
typedef const char* (*hearth_cpu_prefill_matmul_fn)(void* device);

#endif /* HEARTH_BACKEND_CPU_EXTENSIONS_H */
