/* The image's model as an RPC module: utvm.graph.create() returns a module whose
 * functions are set_input, run, get_output, ... (the same executor firmware uses). */
#include <string.h>

#include "utvm/graph.h"

/* Defined by the generated model source; absent (NULL) in an image without a model. */
extern const utvm_graph_t utvm_model_graph __attribute__((weak));

#define ARG(i) (((TVMFFIAny*)args)[i])
#define RESULT ((TVMFFIAny*)result)

static utvm_graph_executor_t g_ex;
static TVMFFIByteArray g_times;
static char g_json[160];
/* A quantized model's inputs share the activation pool with later tensors: a run consumes them
 * (harness/models/compile/graph.py). This module keeps a copy of each such input, as set_input
 * gave it, and puts it back before every run, so that runs repeated on one input (the time
 * evaluator's) all see that input, as the caller's own buffer would give it to a library. */
static uint8_t** g_kept;

static uint64_t nbytes_of(uint32_t id) {
  uint64_t n = 0;
  (void)utvm_tensor_nbytes(&g_ex.tensors[id], &n);
  return n;
}

/* Whether another tensor of the pool takes some of input id's bytes. */
static bool consumed(uint32_t id) {
  const utvm_graph_t* g = g_ex.graph;
  uint64_t lo = g->tensors[id].offset, hi = lo + nbytes_of(id);
  for (uint32_t t = 0; t < g->num_tensors; ++t) {
    uint64_t o = g->tensors[t].offset;
    if (t != id && g->tensors[t].kind != UTVM_GRAPH_PARAM && o < hi && lo < o + nbytes_of(t)) return true;
  }
  return false;
}

static void drop_kept(void) {
  if (g_kept == NULL) return;
  for (uint32_t i = 0; i < g_ex.graph->num_inputs; ++i) {
    if (g_kept[i] != NULL) (void)utvm_free(g_ex.alloc, g_kept[i]);
  }
  (void)utvm_free(g_ex.alloc, (void*)g_kept);
  g_kept = NULL;
}

static bool keep_inputs(void) {
  uint32_t n = g_ex.graph->num_inputs;
  g_kept = (uint8_t**)utvm_alloc(g_ex.alloc, sizeof(uint8_t*) * (n ? n : 1), sizeof(void*));
  if (g_kept == NULL) return false;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t id = g_ex.graph->inputs[i];
    g_kept[i] = NULL;
    if (consumed(id) && (g_kept[i] = (uint8_t*)utvm_alloc(g_ex.alloc, (size_t)nbytes_of(id), 8)) == NULL) {
      return false;
    }
  }
  return true;
}

static void restore_inputs(void) {
  for (uint32_t i = 0; g_kept != NULL && i < g_ex.graph->num_inputs; ++i) {
    if (g_kept[i] != NULL) {
      memcpy(utvm_graph_input(&g_ex, i)->data, g_kept[i], (size_t)nbytes_of(g_ex.graph->inputs[i]));
    }
  }
}

static int32_t fail(const char* kind, const char* msg) {
  utvm_error_set(kind, msg);
  return -1;
}

static int32_t set_int(void* result, int64_t v) {
  RESULT->type_index = kTVMFFIInt;
  RESULT->v_int64 = v;
  return 0;
}

/* Which input/output argument 0 names: an index or a name. */
static int32_t which(void* args, int32_t n, bool output, uint32_t* out) {
  int64_t i = -1;
  uint32_t count = output ? g_ex.graph->num_outputs : g_ex.graph->num_inputs;
  if (n >= 1 && ARG(0).type_index == kTVMFFIInt) i = ARG(0).v_int64;
  if (n >= 1 && ARG(0).type_index == kTVMFFIRawStr) {
    i = output ? utvm_graph_output_index(&g_ex, ARG(0).v_c_str) : utvm_graph_input_index(&g_ex, ARG(0).v_c_str);
  }
  if (i < 0 || i >= (int64_t)count) {
    return fail("IndexError", output ? "graph: no such output" : "graph: no such input");
  }
  *out = (uint32_t)i;
  return 0;
}

static const DLTensor* tensor_arg(void* args, int32_t n, int32_t at) {
  return n > at && ARG(at).type_index == kTVMFFIDLTensorPtr ? (const DLTensor*)ARG(at).v_ptr : NULL;
}

static bool same_dtype(const DLTensor* a, const DLTensor* b) {
  return a->dtype.code == b->dtype.code && a->dtype.bits == b->dtype.bits;
}

static int32_t m_set_input(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)result;
  uint32_t i;
  uint64_t nbytes;
  const DLTensor* src = tensor_arg(args, n, 1);
  if (n != 2 || src == NULL) return fail("TypeError", "set_input(index or name, tensor)");
  if (which(args, n, false, &i) != 0) return -1;
  /* the executor copies and checks the size */
  if (!same_dtype(src, utvm_graph_input(&g_ex, i)) || !utvm_tensor_nbytes(src, &nbytes) ||
      utvm_graph_set_input(&g_ex, i, (const uint8_t*)src->data + src->byte_offset, (size_t)nbytes) != UTVM_OK) {
    return fail("ValueError", "set_input: tensor size or dtype does not match");
  }
  if (g_kept != NULL && g_kept[i] != NULL) memcpy(g_kept[i], utvm_graph_input(&g_ex, i)->data, (size_t)nbytes);
  return 0;
}

static int32_t m_get_output(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)result;
  uint32_t i;
  uint64_t nbytes;
  const DLTensor* dst = tensor_arg(args, n, 1);
  if (n != 2 || dst == NULL) return fail("TypeError", "get_output(index or name, out tensor)");
  if (which(args, n, true, &i) != 0) return -1;
  if (!same_dtype(dst, utvm_graph_output(&g_ex, i)) || !utvm_tensor_nbytes(dst, &nbytes) ||
      utvm_graph_get_output(&g_ex, i, (uint8_t*)dst->data + dst->byte_offset, (size_t)nbytes) != UTVM_OK) {
    return fail("ValueError", "get_output: tensor size or dtype does not match");
  }
  return 0;
}

static int32_t run(void* result, int profile) {
  restore_inputs();
  utvm_status_t st = utvm_graph_run(&g_ex, profile);
  if (st == UTVM_ERR_KERNEL) return -1; /* the kernel's own error is set */
  if (st != UTVM_OK) return fail("RuntimeError", utvm_status_str(st));
  if (!profile) return 0;
  g_times.data = (const char*)g_ex.node_seconds;
  g_times.size = sizeof(double) * g_ex.graph->num_nodes;
  RESULT->type_index = kTVMFFIByteArrayPtr;
  RESULT->v_ptr = &g_times;
  return 0;
}

static int32_t m_run(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  return n == 0 ? run(result, 0) : fail("TypeError", "run() takes no arguments");
}

/* profile() -> bytes: seconds per node (doubles, in node order) of one run. */
static int32_t m_profile(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  return n == 0 ? run(result, 1) : fail("TypeError", "profile() takes no arguments");
}

static int32_t m_num_inputs(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  (void)n;
  return set_int(result, g_ex.graph->num_inputs);
}

static int32_t m_num_outputs(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  (void)n;
  return set_int(result, g_ex.graph->num_outputs);
}

static int32_t m_input_index(void* self, void* args, int32_t n, void* result) {
  (void)self;
  if (n != 1 || ARG(0).type_index != kTVMFFIRawStr) return fail("TypeError", "get_input_index(name)");
  return set_int(result, utvm_graph_input_index(&g_ex, ARG(0).v_c_str));
}

/* stats() -> str: JSON with the last run's time, the number of runs and the arena size. */
static int32_t m_stats(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  (void)n;
  const char* keys[4] = {"{\"runs\":", ",\"last_run_ns\":", ",\"arena_bytes\":", ",\"nodes\":"};
  uint64_t values[4] = {g_ex.runs, (uint64_t)(g_ex.last_run_seconds * 1e9), g_ex.graph->arena_bytes,
                        g_ex.graph->num_nodes};
  char num[24];
  g_json[0] = '\0';
  for (int i = 0; i < 4; ++i) {
    strncat(g_json, keys[i], sizeof(g_json) - strlen(g_json) - 1);
    strncat(g_json, utvm_fmt_u64(num, values[i]), sizeof(g_json) - strlen(g_json) - 1);
  }
  strncat(g_json, "}", sizeof(g_json) - strlen(g_json) - 1);
  RESULT->type_index = kTVMFFIRawStr;
  RESULT->v_c_str = g_json;
  return 0;
}

static const utvm_func_t k_funcs[] = {
    {"set_input", m_set_input, NULL},     {"get_output", m_get_output, NULL},
    {"run", m_run, NULL},                 {"profile", m_profile, NULL},
    {"get_num_inputs", m_num_inputs, NULL}, {"get_num_outputs", m_num_outputs, NULL},
    {"get_input_index", m_input_index, NULL}, {"stats", m_stats, NULL},
};
static const utvm_func_registry_t k_registry = {k_funcs, sizeof(k_funcs) / sizeof(k_funcs[0])};
static const utvm_module_t k_module = {"graph_executor", &k_registry};

/* utvm.graph.create() -> Module: a fresh executor over the data allocator. */
static int32_t g_create(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  if (n != 0) return fail("TypeError", "utvm.graph.create() takes no arguments");
  if (&utvm_model_graph == NULL) return fail("RuntimeError", "this image has no model");
  if (utvm_runtime_module_registered(&k_module)) {
    drop_kept();
    utvm_graph_release(&g_ex); /* same session: give the old arena back */
  } else {
    memset(&g_ex, 0, sizeof(g_ex)); /* a new session reset the allocators already */
    g_kept = NULL;
  }
  if (utvm_graph_init(&g_ex, &utvm_model_graph, utvm_runtime_config()->data) != UTVM_OK) return -1;
  if (!keep_inputs()) return fail("MemoryError", "graph: no memory to keep the inputs a run consumes");
  if (utvm_runtime_register_module(&k_module) != UTVM_OK) return fail("MemoryError", "module table full");
  RESULT->type_index = kTVMFFIModule;
  RESULT->v_ptr = (void*)(uintptr_t)&k_module;
  return 0;
}

static const utvm_func_t k_globals[] = {{"utvm.graph.create", g_create, NULL}};
const utvm_func_registry_t utvm_graph_globals = {k_globals, 1};
