/* ${name}: a model compiled ahead of time by utvm (direct kernel calls). See utvm/aot.h. */
#ifndef ${NAME}_H_
#define ${NAME}_H_
#include "utvm/aot.h"
#ifdef __cplusplus
extern "C" {
#endif
#define ${NAME}_NUM_INPUTS ${num_inputs}u
#define ${NAME}_NUM_OUTPUTS ${num_outputs}u
${sizes}
/* The workspace ${name}_run takes (${align}-byte aligned): activations, and the inputs'
 * and outputs' regions for those passed as NULL. */
#define ${NAME}_WORKSPACE_BYTES ${arena_bytes}u
/* The kernels' scratch (TVMBackendAllocWorkspace): utvm_aot_init's buffer. */
#define ${NAME}_KERNEL_WORKSPACE_BYTES ${scratch}u
extern const utvm_aot_model_t ${name}_model;
utvm_status_t ${name}_run(const void* const* inputs, void* const* outputs, uint8_t* workspace);
#ifdef __cplusplus
}
#endif
#endif /* ${NAME}_H_ */
