/* The image's AOT model as an RPC module: utvm.aot.create() returns a module whose functions
 * are set_input, run, profile, get_output, ... over a workspace from the data allocator.
 * Inputs and outputs are by index (the host maps names); the image carries no names. */
#include <string.h>

#include "utvm/aot.h"
#include "utvm/timer.h"

/* Defined by the generated model source; absent (NULL) in an image without an AOT model. */
extern const utvm_aot_model_t utvm_aot_image_model __attribute__((weak));

#define MODEL (&utvm_aot_image_model)
#define ARG(i) (((TVMFFIAny*)args)[i])
#define RESULT ((TVMFFIAny*)result)

static struct {
  uint8_t* workspace;
  double* call_seconds; /* one per call, from the last profile() */
  TVMFFIByteArray times;
  uint32_t runs;
  char json[96];
} g_aot;

static int32_t fail(const char* kind, const char* msg) {
  utvm_error_set(kind, msg);
  return -1;
}

static int32_t set_int(void* result, int64_t v) {
  RESULT->type_index = kTVMFFIInt;
  RESULT->v_int64 = v;
  return 0;
}

/* Copies between argument 1 (a tensor) and input or output i = argument 0 (+ num_inputs). */
static int32_t copy_io(void* args, int32_t n, bool output) {
  const uint32_t count = output ? MODEL->num_outputs : MODEL->num_inputs;
  if (n != 2 || ARG(0).type_index != kTVMFFIInt || ARG(1).type_index != kTVMFFIDLTensorPtr) {
    return fail("TypeError", "aot: expected (index, tensor)");
  }
  if (ARG(0).v_int64 < 0 || ARG(0).v_int64 >= (int64_t)count) {
    return fail("IndexError", output ? "aot: no such output" : "aot: no such input");
  }
  const uint32_t i = (uint32_t)ARG(0).v_int64 + (output ? MODEL->num_inputs : 0u);
  const DLTensor* t = (const DLTensor*)ARG(1).v_ptr;
  const uint16_t id = output ? MODEL->outputs[i - MODEL->num_inputs] : MODEL->inputs[i];
  const utvm_aot_tensor_t* spec = &MODEL->tensors[id];
  size_t nbytes;
  uint64_t given;
  uint8_t* mine = utvm_aot_io(MODEL, g_aot.workspace, i, &nbytes);
  if (t->dtype.code != spec->code || t->dtype.bits != spec->bits || !utvm_tensor_nbytes(t, &given) ||
      given != nbytes) {
    return fail("ValueError", "aot: the tensor's size or dtype does not match the model's");
  }
  uint8_t* theirs = (uint8_t*)t->data + t->byte_offset;
  if (output) {
    memcpy(theirs, mine, nbytes);
  } else {
    memcpy(mine, theirs, nbytes);
  }
  return 0;
}

static int32_t m_set_input(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)result;
  return copy_io(args, n, false);
}

static int32_t m_get_output(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)result;
  return copy_io(args, n, true);
}

static int32_t run(void* result, int profile) {
  _Static_assert(sizeof(double) == sizeof(uint64_t), "call_seconds holds ticks during a profiled run");
  uint64_t* ticks = profile ? (uint64_t*)(void*)g_aot.call_seconds : NULL;
  utvm_status_t st = utvm_aot_run(MODEL, NULL, NULL, g_aot.workspace, ticks);
  if (st == UTVM_ERR_KERNEL) return -1; /* the kernel's own error is set */
  if (st != UTVM_OK) return fail("RuntimeError", utvm_status_str(st));
  g_aot.runs++;
  if (!profile) return 0;
  for (uint32_t i = 0; i < MODEL->num_calls; ++i) {
    uint64_t t;
    memcpy(&t, &g_aot.call_seconds[i], sizeof(t));
    g_aot.call_seconds[i] = utvm_timer_seconds(t);
  }
  g_aot.times.data = (const char*)g_aot.call_seconds;
  g_aot.times.size = sizeof(double) * MODEL->num_calls;
  RESULT->type_index = kTVMFFIByteArrayPtr;
  RESULT->v_ptr = &g_aot.times;
  return 0;
}

static int32_t m_run(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  return n == 0 ? run(result, 0) : fail("TypeError", "run() takes no arguments");
}

/* profile() -> bytes: seconds per call (doubles, in call order) of one run. */
static int32_t m_profile(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  return n == 0 ? run(result, 1) : fail("TypeError", "profile() takes no arguments");
}

static int32_t m_num_inputs(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  (void)n;
  return set_int(result, MODEL->num_inputs);
}

static int32_t m_num_outputs(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  (void)n;
  return set_int(result, MODEL->num_outputs);
}

/* stats() -> str: JSON with the number of runs, the workspace size and the number of calls. */
static int32_t m_stats(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  (void)n;
  const char* keys[3] = {"{\"runs\":", ",\"workspace_bytes\":", ",\"calls\":"};
  const uint64_t values[3] = {g_aot.runs, MODEL->workspace_bytes, MODEL->num_calls};
  char num[24];
  g_aot.json[0] = '\0';
  for (int i = 0; i < 3; ++i) {
    strncat(g_aot.json, keys[i], sizeof(g_aot.json) - strlen(g_aot.json) - 1);
    strncat(g_aot.json, utvm_fmt_u64(num, values[i]), sizeof(g_aot.json) - strlen(g_aot.json) - 1);
  }
  strncat(g_aot.json, "}", sizeof(g_aot.json) - strlen(g_aot.json) - 1);
  RESULT->type_index = kTVMFFIRawStr;
  RESULT->v_c_str = g_aot.json;
  return 0;
}

static const utvm_func_t k_funcs[] = {
    {"set_input", m_set_input, NULL},     {"get_output", m_get_output, NULL},
    {"run", m_run, NULL},                 {"profile", m_profile, NULL},
    {"get_num_inputs", m_num_inputs, NULL}, {"get_num_outputs", m_num_outputs, NULL},
    {"stats", m_stats, NULL},
};
static const utvm_func_registry_t k_registry = {k_funcs, sizeof(k_funcs) / sizeof(k_funcs[0])};
static const utvm_module_t k_module = {"aot_executor", &k_registry};

static void release(utvm_allocator_t* a) {
  if (g_aot.workspace != NULL && MODEL->workspace_bytes) (void)utvm_free(a, g_aot.workspace);
  if (g_aot.call_seconds != NULL) (void)utvm_free(a, g_aot.call_seconds);
  memset(&g_aot, 0, sizeof(g_aot));
}

/* utvm.aot.create() -> Module: the model over a fresh workspace from the data allocator. */
static int32_t g_create(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  utvm_allocator_t* data = utvm_runtime_config()->data;
  if (n != 0) return fail("TypeError", "utvm.aot.create() takes no arguments");
  if (MODEL == NULL) return fail("RuntimeError", "this image has no AOT model");
  if (utvm_runtime_module_registered(&k_module)) {
    release(data); /* same session: give the old workspace back */
  } else {
    memset(&g_aot, 0, sizeof(g_aot)); /* a new session reset the allocators already */
  }
  const uint32_t calls = MODEL->num_calls;
  g_aot.workspace = MODEL->workspace_bytes ? utvm_alloc(data, MODEL->workspace_bytes, UTVM_AOT_ALIGN)
                                                   : (uint8_t*)&g_aot; /* any non-NULL address: nothing is there */
  g_aot.call_seconds = calls ? utvm_alloc(data, sizeof(double) * calls, sizeof(double)) : NULL;
  if (g_aot.workspace == NULL || (calls && g_aot.call_seconds == NULL)) {
    release(data);
    return fail("MemoryError", "aot executor: not enough memory for the workspace");
  }
  if (utvm_runtime_register_module(&k_module) != UTVM_OK) return fail("MemoryError", "module table full");
  RESULT->type_index = kTVMFFIModule;
  RESULT->v_ptr = (void*)(uintptr_t)&k_module;
  return 0;
}

static const utvm_func_t k_globals[] = {{"utvm.aot.create", g_create, NULL}};
const utvm_func_registry_t utvm_aot_globals = {k_globals, 1};
