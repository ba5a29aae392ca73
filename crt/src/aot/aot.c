/* AOT executor: the set-up around a model's generated calls (utvm/aot.h). */
#include "utvm/aot.h"

#include "utvm/timer.h"

void* utvm_aot_io(const utvm_aot_model_t* m, uint8_t* workspace, uint32_t i, size_t* nbytes) {
  if (m == NULL || workspace == NULL || i >= (uint32_t)m->num_inputs + m->num_outputs) return NULL;
  if (nbytes != NULL) *nbytes = m->io[i].nbytes;
  return workspace + m->io[i].offset;
}

utvm_status_t utvm_aot_failed(void) {
  if (utvm_error_get()[0] == '\0') utvm_error_set("RuntimeError", "aot: a kernel failed without an error message");
  return UTVM_ERR_KERNEL;
}

utvm_status_t utvm_aot_run(const utvm_aot_model_t* m, const void* const* inputs, void* const* outputs,
                           uint8_t* workspace, uint64_t* call_ticks) {
  uint8_t* io[UTVM_AOT_MAX_IO];
  if (m == NULL || workspace == NULL || (uint32_t)m->num_inputs + m->num_outputs > UTVM_AOT_MAX_IO) {
    return UTVM_ERR_INVALID_ARG;
  }
  /* The caller's buffer, or the plan's region of the workspace. */
  for (uint32_t i = 0; i < (uint32_t)m->num_inputs + m->num_outputs; ++i) {
    const void* p = i < m->num_inputs ? (inputs != NULL ? inputs[i] : NULL)
                                      : (outputs != NULL ? outputs[i - m->num_inputs] : NULL);
    io[i] = p != NULL ? (uint8_t*)(uintptr_t)p : workspace + m->io[i].offset;
  }
  utvm_error_clear();
  if (call_ticks == NULL) return m->calls(io, workspace, NULL);
  utvm_aot_clock_t clock;
  clock.ticks = call_ticks;
  utvm_timer_start(&clock.timer);
  return m->calls(io, workspace, &clock);
}

utvm_status_t utvm_aot_init(utvm_std_allocator_t* alloc, void* kernel_workspace, size_t size) {
  if (alloc == NULL || kernel_workspace == NULL) return UTVM_ERR_INVALID_ARG;
  utvm_status_t st = utvm_std_allocator_init(alloc, kernel_workspace, size);
  utvm_runtime_config_t cfg = {NULL, &alloc->base, &alloc->base, NULL};
  return st == UTVM_OK ? utvm_runtime_init(&cfg) : st;
}
