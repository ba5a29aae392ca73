/* ${name}: the library's API over the graph executor. */
#include "${name}.h"

#include "utvm/platform.h"
#include "utvm/runtime.h"

extern const utvm_graph_t utvm_model_graph;
${decls}

/* Sorted by name: the registry is searched by name. */
static const utvm_func_t k_kernels[] = {
${entries}
};
static const utvm_func_registry_t k_lib = {k_kernels, sizeof(k_kernels) / sizeof(k_kernels[0])};

utvm_status_t ${name}_init_with(${name}_model_t* m, utvm_allocator_t* data, utvm_allocator_t* workspace) {
  utvm_runtime_config_t cfg = {&k_lib, data, workspace, NULL};
  utvm_status_t st = utvm_runtime_init(&cfg);
  return st == UTVM_OK ? utvm_graph_init(&m->ex, &utvm_model_graph, data) : st;
}

utvm_status_t ${name}_init(${name}_model_t* m, void* buffer, size_t size) {
  const size_t workspace = ${NAME}_MEMORY_BYTES - utvm_model_graph.arena_bytes -
                           ${tables_slack}u - 64u * utvm_model_graph.num_tensors;
  if (buffer == NULL || size < ${NAME}_MEMORY_BYTES) return UTVM_ERR_NO_MEMORY;
  uint8_t* base = (uint8_t*)buffer;
  utvm_status_t st = utvm_std_allocator_init(&m->workspace, base, workspace);
  if (st == UTVM_OK) st = utvm_std_allocator_init(&m->data, base + workspace, size - workspace);
  return st == UTVM_OK ? ${name}_init_with(m, &m->data.base, &m->workspace.base) : st;
}

utvm_status_t ${name}_set_input(${name}_model_t* m, uint32_t i, const void* data, size_t nbytes) {
  return utvm_graph_set_input(&m->ex, i, data, nbytes);
}

utvm_status_t ${name}_run(${name}_model_t* m) { return utvm_graph_run(&m->ex, 0); }

utvm_status_t ${name}_get_output(${name}_model_t* m, uint32_t i, void* data, size_t nbytes) {
  return utvm_graph_get_output(&m->ex, i, data, nbytes);
}

double ${name}_last_run_seconds(const ${name}_model_t* m) { return m->ex.last_run_seconds; }

/* Without a port's counter the library still runs (every run takes 0 s); a firmware's own
 * definitions win. */
__attribute__((weak)) uint64_t utvm_platform_timer_ticks(void) { return 0; }
__attribute__((weak)) uint64_t utvm_platform_timer_hz(void) { return 1; }
