/* ${name}: a model compiled by utvm. No malloc: memory is the caller's. */
#ifndef ${NAME}_H_
#define ${NAME}_H_

#include <stddef.h>
#include <stdint.h>

#include "utvm/graph.h"
#include "utvm/memory.h"
#include "utvm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ${NAME}_NUM_INPUTS ${num_inputs}u
#define ${NAME}_NUM_OUTPUTS ${num_outputs}u
${sizes}
/* Bytes of buffer ${name}_init needs: activations ${arena_bytes}, kernel workspace ${workspace}, tables. */
#define ${NAME}_MEMORY_BYTES ${memory}u

typedef struct {
  utvm_graph_executor_t ex;
  utvm_std_allocator_t data;      /* over the caller's buffer (${name}_init) */
  utvm_std_allocator_t workspace;
} ${name}_model_t;

/* Set up over a caller buffer of at least ${NAME}_MEMORY_BYTES (any alignment). */
utvm_status_t ${name}_init(${name}_model_t* m, void* buffer, size_t size);
/* Or with the caller's allocators: data for activations and tables, workspace for kernels. */
utvm_status_t ${name}_init_with(${name}_model_t* m, utvm_allocator_t* data, utvm_allocator_t* workspace);
/* Copy input i in, before each run (a run may reuse an integer input's memory); nbytes must be
   ${NAME}_INPUT_i_BYTES. */
utvm_status_t ${name}_set_input(${name}_model_t* m, uint32_t i, const void* data, size_t nbytes);
/* Run the model. On UTVM_ERR_KERNEL, utvm_error_get() says which kernel failed and why. */
utvm_status_t ${name}_run(${name}_model_t* m);
/* Copy output i out; nbytes must be ${NAME}_OUTPUT_i_BYTES. */
utvm_status_t ${name}_get_output(${name}_model_t* m, uint32_t i, void* data, size_t nbytes);
/* Seconds the last run took (0 without a platform timer). */
double ${name}_last_run_seconds(const ${name}_model_t* m);

#ifdef __cplusplus
}
#endif
#endif /* ${NAME}_H_ */
