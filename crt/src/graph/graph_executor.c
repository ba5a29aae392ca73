/* Graph executor: a fixed list of kernel calls over an arena planned at build time. */
#include <string.h>

#include "utvm/graph.h"
#include "utvm/timer.h"

#define ALIGNMENT 64u

static utvm_status_t fail(utvm_status_t st, const char* kind, const char* what, const char* name) {
  const char* parts[2] = {what, name};
  utvm_error_set_parts(kind, parts, name != NULL ? 2 : 1);
  return st;
}

static void* take(utvm_graph_executor_t* ex, size_t nbytes, size_t alignment) {
  return nbytes == 0 ? NULL : utvm_alloc(ex->alloc, nbytes, alignment);
}

static void give_back(utvm_allocator_t* a, void* p) {
  if (p != NULL) (void)utvm_free(a, p);
}

void utvm_graph_release(utvm_graph_executor_t* ex) {
  if (ex->alloc != NULL) {
    give_back(ex->alloc, ex->arena);
    give_back(ex->alloc, ex->tensors);
    give_back(ex->alloc, (void*)ex->funcs);
    give_back(ex->alloc, ex->node_seconds);
  }
  memset(ex, 0, sizeof(*ex));
}

static void bind_tensors(utvm_graph_executor_t* ex) {
  const utvm_graph_t* g = ex->graph;
  for (uint32_t i = 0; i < g->num_tensors; ++i) {
    const utvm_graph_tensor_t* t = &g->tensors[i];
    DLTensor* d = &ex->tensors[i];
    d->data = t->kind == UTVM_GRAPH_PARAM ? (void*)(uintptr_t)t->data : ex->arena + t->offset;
    d->device.device_type = kDLCPU;
    d->device.device_id = 0;
    d->ndim = t->ndim;
    d->dtype = t->dtype;
    d->shape = (int64_t*)(uintptr_t)t->shape;
    d->strides = NULL;
    d->byte_offset = 0;
  }
}

utvm_status_t utvm_graph_init(utvm_graph_executor_t* ex, const utvm_graph_t* g, utvm_allocator_t* alloc) {
  if (ex == NULL || g == NULL || alloc == NULL) return UTVM_ERR_INVALID_ARG;
  memset(ex, 0, sizeof(*ex));
  ex->graph = g;
  ex->alloc = alloc;
  ex->arena = take(ex, g->arena_bytes, ALIGNMENT);
  ex->tensors = take(ex, sizeof(DLTensor) * g->num_tensors, sizeof(void*));
  ex->funcs = take(ex, sizeof(*ex->funcs) * g->num_nodes, sizeof(void*));
  ex->node_seconds = take(ex, sizeof(double) * g->num_nodes, sizeof(double));
  if ((g->arena_bytes && !ex->arena) || (g->num_tensors && !ex->tensors) ||
      (g->num_nodes && (!ex->funcs || !ex->node_seconds))) {
    utvm_graph_release(ex);
    return fail(UTVM_ERR_NO_MEMORY, "MemoryError", "graph executor: not enough memory for the arena", NULL);
  }
  const utvm_func_registry_t* lib = utvm_system_lib_module()->registry;
  for (uint32_t i = 0; i < g->num_nodes; ++i) {
    ex->funcs[i] = utvm_registry_find(lib, g->nodes[i].func);
    if (ex->funcs[i] == NULL) {
      const char* name = g->nodes[i].func;
      utvm_graph_release(ex);
      return fail(UTVM_ERR_NOT_FOUND, "AttributeError", "graph executor: the image has no kernel ", name);
    }
    ex->node_seconds[i] = 0.0;
  }
  bind_tensors(ex);
  return UTVM_OK;
}

static int32_t find_name(const utvm_graph_t* g, const uint32_t* ids, uint32_t n, const char* name) {
  for (uint32_t i = 0; name != NULL && i < n; ++i) {
    if (strcmp(g->tensors[ids[i]].name, name) == 0) return (int32_t)i;
  }
  return -1;
}

int32_t utvm_graph_input_index(const utvm_graph_executor_t* ex, const char* name) {
  return find_name(ex->graph, ex->graph->inputs, ex->graph->num_inputs, name);
}

int32_t utvm_graph_output_index(const utvm_graph_executor_t* ex, const char* name) {
  return find_name(ex->graph, ex->graph->outputs, ex->graph->num_outputs, name);
}

DLTensor* utvm_graph_input(utvm_graph_executor_t* ex, uint32_t i) {
  return i < ex->graph->num_inputs ? &ex->tensors[ex->graph->inputs[i]] : NULL;
}

const DLTensor* utvm_graph_output(const utvm_graph_executor_t* ex, uint32_t i) {
  return i < ex->graph->num_outputs ? &ex->tensors[ex->graph->outputs[i]] : NULL;
}

static bool size_matches(const DLTensor* t, size_t nbytes) {
  uint64_t expect;
  return utvm_tensor_nbytes(t, &expect) && expect == nbytes;
}

utvm_status_t utvm_graph_set_input(utvm_graph_executor_t* ex, uint32_t i, const void* data, size_t nbytes) {
  DLTensor* t = utvm_graph_input(ex, i);
  if (t == NULL || data == NULL) return UTVM_ERR_INVALID_ARG;
  if (!size_matches(t, nbytes)) return UTVM_ERR_TOO_LARGE;
  memcpy(t->data, data, nbytes);
  return UTVM_OK;
}

utvm_status_t utvm_graph_get_output(const utvm_graph_executor_t* ex, uint32_t i, void* data, size_t nbytes) {
  const DLTensor* t = utvm_graph_output(ex, i);
  if (t == NULL || data == NULL) return UTVM_ERR_INVALID_ARG;
  if (!size_matches(t, nbytes)) return UTVM_ERR_TOO_LARGE;
  memcpy(data, t->data, nbytes);
  return UTVM_OK;
}

static utvm_status_t run_node(utvm_graph_executor_t* ex, uint32_t i) {
  enum { kMaxArgs = 16 };
  const utvm_graph_t* g = ex->graph;
  const utvm_graph_node_t* node = &g->nodes[i];
  TVMFFIAny args[kMaxArgs];
  TVMFFIAny result;
  if (node->num_args > kMaxArgs) {
    return fail(UTVM_ERR_TOO_LARGE, "ValueError", "graph executor: too many arguments for ", node->func);
  }
  for (uint32_t a = 0; a < node->num_args; ++a) {
    memset(&args[a], 0, sizeof(args[a]));
    args[a].type_index = kTVMFFIDLTensorPtr;
    args[a].v_ptr = &ex->tensors[g->args[node->first_arg + a]];
  }
  return utvm_func_call(ex->funcs[i], args, (int32_t)node->num_args, &result) == 0 ? UTVM_OK
                                                                                 : UTVM_ERR_KERNEL;
}

_Static_assert(sizeof(double) == sizeof(uint64_t), "node_seconds holds ticks during a profiled run");

/* Node times of a profiled run, kept as ticks (the bytes of node_seconds) until it is over. */
static void convert_node_ticks(utvm_graph_executor_t* ex, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t ticks;
    memcpy(&ticks, &ex->node_seconds[i], sizeof(ticks));
    ex->node_seconds[i] = utvm_timer_seconds(ticks);
  }
}

/* One timer for the whole run. A profile takes a lap after each node and does no float work
 * between counter reads, so the nodes' times add up to the run's less the few instructions
 * between the last lap and the stop. */
utvm_status_t utvm_graph_run(utvm_graph_executor_t* ex, int profile) {
  if (ex == NULL || ex->graph == NULL) return UTVM_ERR_STATE;
  const uint32_t n = ex->graph->num_nodes;
  utvm_status_t st = UTVM_OK;
  uint32_t timed = 0;
  utvm_timer_t timer;
  utvm_timer_start(&timer);
  for (uint32_t i = 0; i < n && st == UTVM_OK; ++i) {
    uint64_t ticks;
    st = run_node(ex, i);
    if (st == UTVM_OK && profile) {
      st = utvm_timer_lap(&timer, &ticks) == UTVM_OK ? UTVM_OK : UTVM_ERR_PLATFORM;
      memcpy(&ex->node_seconds[timed++], &ticks, sizeof(ticks));
    }
  }
  double total = 0.0;
  if (st == UTVM_OK && utvm_timer_stop(&timer, &total) != UTVM_OK) st = UTVM_ERR_PLATFORM;
  convert_node_ticks(ex, timed);
  if (st != UTVM_OK) return st;
  ex->last_run_seconds = total;
  ex->runs++;
  return UTVM_OK;
}
