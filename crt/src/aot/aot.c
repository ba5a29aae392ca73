/* AOT executor: the fixed loop over a model's generated call table (utvm/aot.h). */
#include "utvm/aot.h"

#include "utvm/timer.h"

/* Ids of input i, then output i - num_inputs. */
static uint16_t io_id(const utvm_aot_model_t* m, uint32_t i) {
  return i < m->num_inputs ? m->inputs[i] : m->outputs[i - m->num_inputs];
}

void* utvm_aot_io(const utvm_aot_model_t* m, uint8_t* workspace, uint32_t i, size_t* nbytes) {
  if (m == NULL || workspace == NULL || i >= (uint32_t)m->num_inputs + m->num_outputs) return NULL;
  const utvm_aot_tensor_t* t = &m->tensors[io_id(m, i)];
  size_t n = (t->bits + 7u) / 8u;
  for (uint32_t d = 0; d < t->ndim; ++d) n *= (size_t)t->shape[d];
  if (nbytes != NULL) *nbytes = n;
  return workspace + t->at.offset;
}

/* Where each place's data starts: the workspace, or a caller's buffer less the offset of its
 * tensor (unsigned arithmetic, so that base + offset is the buffer). */
static void set_bases(const utvm_aot_model_t* m, const void* const* inputs, void* const* outputs,
                      uint8_t* workspace, uintptr_t* bases) {
  const uint32_t nio = (uint32_t)m->num_inputs + m->num_outputs;
  bases[UTVM_AOT_WORKSPACE] = bases[UTVM_AOT_PARAM] = (uintptr_t)workspace;
  for (uint32_t i = 0; i < nio; ++i) {
    const void* p = i < m->num_inputs ? (inputs != NULL ? inputs[i] : NULL)
                                      : (outputs != NULL ? outputs[i - m->num_inputs] : NULL);
    bases[UTVM_AOT_IO + i] = p != NULL ? (uintptr_t)p - m->tensors[io_id(m, i)].at.offset : (uintptr_t)workspace;
  }
}

static void bind(DLTensor* d, TVMFFIAny* a, const utvm_aot_tensor_t* t, const uintptr_t* bases) {
  d->data = t->place == UTVM_AOT_PARAM ? (void*)(uintptr_t)t->at.param : (void*)(bases[t->place] + t->at.offset);
  d->device.device_type = kDLCPU;
  d->device.device_id = 0;
  d->ndim = t->ndim;
  d->dtype.code = t->code;
  d->dtype.bits = t->bits;
  d->dtype.lanes = 1;
  d->shape = (int64_t*)(uintptr_t)t->shape;
  d->strides = NULL;
  d->byte_offset = 0;
  a->type_index = kTVMFFIDLTensorPtr;
  a->zero_padding = 0;
  a->v_int64 = 0;
  a->v_ptr = d;
}

static utvm_status_t call(const utvm_aot_model_t* m, const utvm_aot_call_t* c, const uintptr_t* bases) {
  DLTensor tensors[UTVM_AOT_MAX_ARGS];
  TVMFFIAny args[UTVM_AOT_MAX_ARGS];
  TVMFFIAny result;
  const uint16_t* ids = &m->args[c->first_arg];
  for (uint32_t a = 0; a < c->num_args; ++a) bind(&tensors[a], &args[a], &m->tensors[ids[a]], bases);
  if (c->fn(NULL, args, c->num_args, &result) == 0) return UTVM_OK;
  if (utvm_error_get()[0] == '\0') utvm_error_set("RuntimeError", "aot: a kernel failed without an error message");
  return UTVM_ERR_KERNEL;
}

utvm_status_t utvm_aot_run(const utvm_aot_model_t* m, const void* const* inputs, void* const* outputs,
                           uint8_t* workspace, uint64_t* call_ticks) {
  uintptr_t bases[UTVM_AOT_IO + UTVM_AOT_MAX_IO];
  if (m == NULL || workspace == NULL || (uint32_t)m->num_inputs + m->num_outputs > UTVM_AOT_MAX_IO) {
    return UTVM_ERR_INVALID_ARG;
  }
  set_bases(m, inputs, outputs, workspace, bases);
  utvm_error_clear();
  utvm_timer_t timer;
  if (call_ticks != NULL) utvm_timer_start(&timer);
  for (uint32_t i = 0; i < m->num_calls; ++i) {
    utvm_status_t st = call(m, &m->calls[i], bases);
    if (st != UTVM_OK) return st;
    if (call_ticks != NULL && utvm_timer_lap(&timer, &call_ticks[i]) != UTVM_OK) return UTVM_ERR_PLATFORM;
  }
  return UTVM_OK;
}

utvm_status_t utvm_aot_init(utvm_std_allocator_t* alloc, void* kernel_workspace, size_t size) {
  if (alloc == NULL || kernel_workspace == NULL) return UTVM_ERR_INVALID_ARG;
  utvm_status_t st = utvm_std_allocator_init(alloc, kernel_workspace, size);
  utvm_runtime_config_t cfg = {NULL, &alloc->base, &alloc->base, NULL};
  return st == UTVM_OK ? utvm_runtime_init(&cfg) : st;
}
