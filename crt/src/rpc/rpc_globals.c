/*
 * Device-side global functions the TVM client calls, handle validation, and
 * the time-evaluator closures. Handles are addresses of utvm_func_t/utvm_module_t
 * objects; every handle from the host is checked against the objects that exist.
 */
#include <string.h>

#include "rpc_internal.h"
#include "utvm/server.h"
#include "utvm/timer.h"

#define ARG(i) (((TVMFFIAny*)args)[i])
#define RESULT ((TVMFFIAny*)result)

static int32_t fail(const char* kind, const char* msg) {
  utvm_error_set(kind, msg);
  return -1;
}

/* Module handles: the system library or a registered module. */
static const utvm_module_t* module_from_handle(uint64_t h) {
  const utvm_module_t* m = (const utvm_module_t*)(uintptr_t)h;
  return m == utvm_system_lib_module() || utvm_runtime_module_registered(m) ? m : NULL;
}

/* ---- time evaluator ---- */

typedef struct {
  utvm_func_t func; /* first: the handle the host holds */
  const utvm_func_t* target;
  int32_t number;
  int32_t repeat;
  int32_t min_repeat_ms;
  int32_t limit_zero_time_iterations;
  bool active;
  TVMFFIByteArray bytes;
  double results[UTVM_MAX_TIMER_REPEATS];
} closure_t;

static closure_t g_closures[UTVM_MAX_CLOSURES];

/* One timed measurement of `number` calls; seconds in *elapsed. The target may time
 * itself (a graph's run does): its timer and this one are independent. */
static int32_t time_calls(closure_t* c, int32_t number, void* args, int32_t n, double* elapsed) {
  TVMFFIAny rv;
  utvm_timer_t timer;
  utvm_timer_start(&timer);
  for (int32_t i = 0; i < number; ++i) {
    if (utvm_func_call(c->target, (TVMFFIAny*)args, n, &rv) != 0) return -1;
  }
  if (utvm_timer_stop(&timer, elapsed) != UTVM_OK) {
    return fail("RuntimeError", "timer: the platform's counter ran backwards or has no rate");
  }
  return 0;
}

/* Same policy as TVM's WrapTimeEvaluator: grow `number` until a repeat lasts
 * min_repeat_ms; the first call is a discarded warm-up. */
static int32_t time_evaluator_call(void* self, void* args, int32_t n, void* result) {
  closure_t* c = (closure_t*)self;
  TVMFFIAny rv;
  if (utvm_func_call(c->target, (TVMFFIAny*)args, n, &rv) != 0) return -1;
  int32_t number = c->number;
  for (int32_t r = 0; r < c->repeat; ++r) {
    double seconds = 0.0;
    int32_t zero_runs = 0;
    for (;;) {
      if (seconds > 0.0) {
        double per_call_ms = seconds * 1000.0 / number;
        double grown = number * 1.618;
        double needed = c->min_repeat_ms / per_call_ms + 1;
        double next = needed > grown ? needed : grown;
        number = next > 1e9 ? 1000000000 : (int32_t)next;
      }
      if (time_calls(c, number, args, n, &seconds) != 0) return -1;
      if (seconds * 1000.0 >= c->min_repeat_ms) break;
      if (seconds <= 0.0 && ++zero_runs >= c->limit_zero_time_iterations) break;
    }
    c->results[r] = seconds / number;
  }
  c->bytes.data = (const char*)c->results;
  c->bytes.size = sizeof(double) * (size_t)c->repeat;
  RESULT->type_index = kTVMFFIByteArrayPtr;
  RESULT->v_ptr = &c->bytes;
  return 0;
}

static const utvm_func_t* find_in(utvm_rpc_server_t* s, const utvm_module_t* mod, const char* name) {
  return mod != NULL ? utvm_registry_find(mod->registry, name) : utvm_rpc_find_function(s, name);
}

/* (mod|None, name, dev_type, dev_id, number, repeat, min_repeat_ms,
 *  limit_zero_time_iterations, cooldown_interval_ms, repeats_to_cooldown,
 *  [cache_flush_bytes,] f_preproc) -> Function returning `repeat` doubles. */
static int32_t g_time_evaluator(void* self, void* args, int32_t n, void* result) {
  if (n != 11 && n != 12) return fail("TypeError", "RPCTimeEvaluator expects 11 or 12 arguments");
  for (int32_t i = 2; i < n - 1; ++i) {
    if (ARG(i).type_index != kTVMFFIInt) return fail("TypeError", "RPCTimeEvaluator: bad argument");
  }
  if (ARG(1).type_index != kTVMFFIRawStr || ARG(n - 1).type_index != kTVMFFIRawStr) {
    return fail("TypeError", "RPCTimeEvaluator: name and f_preproc must be str");
  }
  if (ARG(n - 1).v_c_str[0] != '\0') {
    return fail("ValueError", "RPCTimeEvaluator: f_preproc is not supported on a device");
  }
  const utvm_module_t* mod = NULL;
  if (ARG(0).type_index == kTVMFFIModule) {
    mod = module_from_handle((uint64_t)(uintptr_t)ARG(0).v_ptr);
    if (mod == NULL) return fail("ValueError", "RPCTimeEvaluator: invalid module handle");
  } else if (ARG(0).type_index != kTVMFFINone) {
    return fail("TypeError", "RPCTimeEvaluator: first argument must be a Module or None");
  }
  const utvm_func_t* target = find_in((utvm_rpc_server_t*)self, mod, ARG(1).v_c_str);
  if (target == NULL) {
    const char* parts[2] = {"RPCTimeEvaluator: no function named ", ARG(1).v_c_str};
    utvm_error_set_parts("AttributeError", parts, 2);
    return -1;
  }
  int64_t number = ARG(4).v_int64, repeat = ARG(5).v_int64, min_ms = ARG(6).v_int64;
  if (number < 1 || number > 1000000000 || repeat < 1 || repeat > UTVM_MAX_TIMER_REPEATS ||
      min_ms < 0 || min_ms > 3600000) {
    return fail("ValueError",
                "RPCTimeEvaluator: need 1 <= number, 1 <= repeat <= UTVM_MAX_TIMER_REPEATS, "
                "0 <= min_repeat_ms");
  }
  for (size_t i = 0; i < UTVM_MAX_CLOSURES; ++i) {
    closure_t* c = &g_closures[i];
    if (c->active) continue;
    memset(c, 0, sizeof(*c));
    c->func.name = "time_evaluator";
    c->func.fn = time_evaluator_call;
    c->func.self = c;
    c->target = target;
    c->number = (int32_t)number;
    c->repeat = (int32_t)repeat;
    c->min_repeat_ms = (int32_t)min_ms;
    c->limit_zero_time_iterations = ARG(7).v_int64 > 0 ? (int32_t)ARG(7).v_int64 : 1;
    c->active = true;
    RESULT->type_index = kTVMFFIFunction;
    RESULT->v_ptr = &c->func;
    return 0;
  }
  return fail("MemoryError",
              "RPCTimeEvaluator: all time-evaluator slots are in use (UTVM_MAX_CLOSURES)");
}

/* ---- the other globals ---- */

static int32_t g_system_lib(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  if (n != 0) return fail("TypeError", "ffi.SystemLib takes no arguments");
  RESULT->type_index = kTVMFFIModule;
  RESULT->v_ptr = (void*)(uintptr_t)utvm_system_lib_module();
  return 0;
}

/* (module, name, query_imports) -> Function or None */
static int32_t g_module_get_function(void* self, void* args, int32_t n, void* result) {
  (void)self;
  if (n != 3 || ARG(0).type_index != kTVMFFIModule || ARG(1).type_index != kTVMFFIRawStr) {
    return fail("TypeError", "ModuleGetFunction expects (Module, str, bool)");
  }
  const utvm_module_t* mod = module_from_handle((uint64_t)(uintptr_t)ARG(0).v_ptr);
  if (mod == NULL) return fail("ValueError", "ModuleGetFunction: invalid module handle");
  const utvm_func_t* f = utvm_registry_find(mod->registry, ARG(1).v_c_str);
  if (f != NULL) {
    RESULT->type_index = kTVMFFIFunction;
    RESULT->v_ptr = (void*)(uintptr_t)f;
  }
  return 0;
}

static int32_t g_max_packet_size(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  (void)n;
  RESULT->type_index = kTVMFFIInt;
  RESULT->v_int64 = UTVM_MAX_PACKET_SIZE;
  return 0;
}

static int32_t g_stats(void* self, void* args, int32_t n, void* result) {
  (void)args;
  (void)n;
  utvm_rpc_server_t* s = (utvm_rpc_server_t*)self;
  size_t cap;
  char* buf = utvm_rpc_scratch(s, &cap);
  if (utvm_stats_json(s, buf, cap) < 0) return fail("MemoryError", "stats do not fit the arena");
  RESULT->type_index = kTVMFFIRawStr;
  RESULT->v_c_str = buf;
  return 0;
}

#if UTVM_ENABLE_TESTING_GLOBALS
/* Returns its first argument unchanged (or None). */
static int32_t g_echo(void* self, void* args, int32_t n, void* result) {
  (void)self;
  if (n > 0) *RESULT = ARG(0);
  return 0;
}

/* raise(kind, message): fails with that error. */
static int32_t g_raise(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)result;
  if (n != 2 || ARG(0).type_index != kTVMFFIRawStr || ARG(1).type_index != kTVMFFIRawStr) {
    return fail("TypeError", "raise expects (str kind, str message)");
  }
  utvm_error_set(ARG(0).v_c_str, ARG(1).v_c_str);
  return -1;
}

/* Returns the number of arguments and checks each decodes: a probe for the codec. */
static int32_t g_count_args(void* self, void* args, int32_t n, void* result) {
  (void)self;
  (void)args;
  RESULT->type_index = kTVMFFIInt;
  RESULT->v_int64 = n;
  return 0;
}
#endif

/* Bound to each server by utvm_rpc_bind_globals: self is the server. */
static const utvm_func_t kGlobals[] = {
    {"ffi.SystemLib", g_system_lib, NULL},
    {"tvm.rpc.server.ModuleGetFunction", g_module_get_function, NULL},
    {"tvm.rpc.server.GetCRTMaxPacketSize", g_max_packet_size, NULL},
    {"runtime.RPCTimeEvaluator", g_time_evaluator, NULL},
    {"utvm.Stats", g_stats, NULL},
#if UTVM_ENABLE_TESTING_GLOBALS
    {"utvm.testing.echo", g_echo, NULL},
    {"utvm.testing.raise", g_raise, NULL},
    {"utvm.testing.count_args", g_count_args, NULL},
#endif
};

_Static_assert(sizeof(kGlobals) / sizeof(kGlobals[0]) == UTVM_RPC_NUM_GLOBALS,
               "UTVM_RPC_NUM_GLOBALS (utvm/rpc_server.h) must count kGlobals");

void utvm_rpc_bind_globals(utvm_rpc_server_t* s) {
  for (size_t i = 0; i < UTVM_RPC_NUM_GLOBALS; ++i) {
    s->globals[i] = kGlobals[i];
    s->globals[i].self = s;
  }
}

const utvm_func_t* utvm_rpc_find_function(utvm_rpc_server_t* s, const char* name) {
  const utvm_func_registry_t own = {s->globals, UTVM_RPC_NUM_GLOBALS};
  const utvm_func_t* f = utvm_registry_find(&own, name);
  const utvm_func_registry_t* image = utvm_runtime_config()->globals;
  if (f == NULL && image != NULL) f = utvm_registry_find(image, name);
  return f != NULL ? f : utvm_registry_find(utvm_system_lib_module()->registry, name);
}

static bool in_table(uint64_t h, const utvm_func_t* table, size_t count) {
  uintptr_t lo = (uintptr_t)table;
  uintptr_t hi = lo + count * sizeof(utvm_func_t);
  return count > 0 && h >= lo && h < hi && (h - lo) % sizeof(utvm_func_t) == 0;
}

static closure_t* closure_of(uint64_t h) {
  for (size_t i = 0; i < UTVM_MAX_CLOSURES; ++i) {
    if (g_closures[i].active && h == (uint64_t)(uintptr_t)&g_closures[i].func) return &g_closures[i];
  }
  return NULL;
}

static bool in_registry(uint64_t h, const utvm_func_registry_t* r) {
  return r != NULL && in_table(h, r->funcs, r->count);
}

const utvm_func_t* utvm_rpc_func_from_handle(utvm_rpc_server_t* s, uint64_t h) {
  bool known = in_table(h, s->globals, UTVM_RPC_NUM_GLOBALS) ||
               in_registry(h, utvm_system_lib_module()->registry) ||
               in_registry(h, utvm_runtime_config()->globals);
  for (size_t i = 0; !known && utvm_runtime_module(i) != NULL; ++i) {
    known = in_registry(h, utvm_runtime_module(i)->registry);
  }
  if (known) return (const utvm_func_t*)(uintptr_t)h;
  closure_t* c = closure_of(h);
  return c != NULL ? &c->func : NULL;
}

void utvm_rpc_release_handle(uint64_t h) {
  closure_t* c = closure_of(h);
  if (c != NULL) c->active = false;
}

void utvm_rpc_handles_reset(void) {
  for (size_t i = 0; i < UTVM_MAX_CLOSURES; ++i) g_closures[i].active = false;
  utvm_runtime_forget_modules();
}
