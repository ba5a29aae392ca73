/* The graph executor on a hand-written graph: x -> add_one -> t -> add_one -> y. */
#include <string.h>

#include "check.h"
#include "fake_platform.h"
#include "utvm/graph.h"
#include "utvm/timer.h"

static int32_t add_one(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)result;
  TVMFFIAny* a = (TVMFFIAny*)args;
  if (n != 2) return -1;
  const DLTensor* in = (const DLTensor*)a[0].v_ptr;
  DLTensor* out = (DLTensor*)a[1].v_ptr;
  for (int64_t i = 0; i < in->shape[0]; ++i) ((float*)out->data)[i] = ((const float*)in->data)[i] + 1.0f;
  utvm_fake_timer_advance(1000); /* each kernel takes 1 ms */
  return 0;
}

static const utvm_func_t k_kernels[] = {{"add_one", add_one, NULL}};
static const utvm_func_registry_t k_lib = {k_kernels, 1};
static const int64_t k_shape[] = {4};
static const utvm_graph_tensor_t k_tensors[] = {
    {"x", k_shape, 1, {kDLFloat, 32, 1}, UTVM_GRAPH_INPUT, 0, NULL},
    {"t", k_shape, 1, {kDLFloat, 32, 1}, UTVM_GRAPH_ACTIVATION, 64, NULL},
    {"y", k_shape, 1, {kDLFloat, 32, 1}, UTVM_GRAPH_OUTPUT, 128, NULL},
};
static const uint32_t k_args[] = {0, 1, 1, 2};
static const utvm_graph_node_t k_nodes[] = {{"add_one", 0, 2}, {"add_one", 2, 2}};
static const uint32_t k_in[] = {0}, k_out[] = {2};
static const utvm_graph_t k_graph = {k_tensors, 3, k_nodes, 2, k_args, k_in, 1, k_out, 1, 192};
static const utvm_graph_node_t k_bad_nodes[] = {{"no_such_kernel", 0, 2}};
static const utvm_graph_t k_bad_graph = {k_tensors, 3, k_bad_nodes, 1, k_args, k_in, 1, k_out, 1, 192};

static uint8_t g_buf[2048] __attribute__((aligned(64)));
static utvm_std_allocator_t g_alloc;
static utvm_std_allocator_t g_ws;

static void setup(size_t bytes) {
  CHECK(utvm_std_allocator_init(&g_alloc, g_buf, bytes) == UTVM_OK);
  CHECK(utvm_std_allocator_init(&g_ws, g_buf + 1024, 1024) == UTVM_OK);
  utvm_runtime_config_t cfg = {&k_lib, &g_alloc.base, &g_ws.base, NULL};
  CHECK(utvm_runtime_init(&cfg) == UTVM_OK);
}

static void test_runs_the_graph(void) {
  utvm_graph_executor_t ex;
  setup(1024);
  CHECK(utvm_graph_init(&ex, &k_graph, &g_alloc.base) == UTVM_OK);
  const float x[4] = {1, 2, 3, 4};
  float y[4] = {0};
  CHECK(utvm_graph_input_index(&ex, "x") == 0 && utvm_graph_input_index(&ex, "y") == -1);
  CHECK(utvm_graph_output_index(&ex, "y") == 0);
  CHECK(utvm_graph_set_input(&ex, 0, x, sizeof(x)) == UTVM_OK);
  CHECK(utvm_graph_set_input(&ex, 0, x, 3) == UTVM_ERR_TOO_LARGE);
  CHECK(utvm_graph_set_input(&ex, 1, x, sizeof(x)) == UTVM_ERR_INVALID_ARG);
  CHECK(utvm_graph_run(&ex, 0) == UTVM_OK);
  CHECK(utvm_graph_get_output(&ex, 0, y, sizeof(y)) == UTVM_OK);
  CHECK(y[0] == 3.0f && y[3] == 6.0f);
  CHECK(utvm_graph_run(&ex, 1) == UTVM_OK && ex.runs == 2);
  CHECK(utvm_graph_get_output(&ex, 1, y, sizeof(y)) == UTVM_ERR_INVALID_ARG);
  utvm_graph_release(&ex);
  CHECK(g_alloc.stats.in_use == 0);
}

static void test_missing_kernel_and_memory(void) {
  utvm_graph_executor_t ex;
  setup(1024);
  CHECK(utvm_graph_init(&ex, &k_bad_graph, &g_alloc.base) == UTVM_ERR_NOT_FOUND);
  CHECK(strstr(utvm_error_get(), "no_such_kernel") != NULL);
  CHECK(g_alloc.stats.in_use == 0);
  setup(160); /* less than the arena */
  CHECK(utvm_graph_init(&ex, &k_graph, &g_alloc.base) == UTVM_ERR_NO_MEMORY);
  CHECK(g_alloc.stats.in_use == 0);
  CHECK(utvm_graph_run(&ex, 0) == UTVM_ERR_STATE);
}

static int close_to(double a, double b) { return a - b < 1e-12 && b - a < 1e-12; }

/* A run inside someone else's measurement (RPCTimeEvaluator's, a firmware's) leaves it alone;
 * a profile's node times add up to the run's time, less the one counter read after the last. */
static void test_run_nests_in_an_outer_timer_and_profile_adds_up(void) {
  utvm_graph_executor_t ex;
  utvm_timer_t outer;
  double whole, sum = 0;
  setup(1024);
  CHECK(utvm_graph_init(&ex, &k_graph, &g_alloc.base) == UTVM_OK);
  utvm_fake_timer_set_step(0);
  utvm_timer_start(&outer);
  utvm_fake_timer_advance(500);
  CHECK(utvm_graph_run(&ex, 0) == UTVM_OK && close_to(ex.last_run_seconds, 2000e-6));
  CHECK(utvm_graph_run(&ex, 0) == UTVM_OK);
  CHECK(utvm_timer_stop(&outer, &whole) == UTVM_OK && close_to(whole, 4500e-6));
  utvm_fake_timer_set_step(7); /* a counter read costs 7 ticks */
  CHECK(utvm_graph_run(&ex, 1) == UTVM_OK);
  for (uint32_t i = 0; i < k_graph.num_nodes; ++i) sum += ex.node_seconds[i];
  CHECK(close_to(ex.node_seconds[0], 1007e-6) && close_to(ex.node_seconds[1], 1007e-6));
  CHECK(close_to(ex.last_run_seconds, sum + 7e-6));
  utvm_fake_timer_set_step(1000);
  utvm_graph_release(&ex);
}

void test_graph(void) {
  RUN(test_runs_the_graph);
  RUN(test_run_nests_in_an_outer_timer_and_profile_adds_up);
  RUN(test_missing_kernel_and_memory);
}
