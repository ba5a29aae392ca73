/* C unit tests of the runtime; prints "N passed, N failed". */
#include <stdio.h>

#include "check.h"
#include "utvm/runtime.h"

int g_checks_failed, g_tests_passed, g_tests_failed;

/* The unit tests run without a generated system library. */
const utvm_func_registry_t utvm_system_lib_registry = {NULL, 0};

void test_aot(void);
void test_graph(void);
void test_link(void);
void test_memory(void);
void test_rpc(void);
void test_timer(void);

int main(void) {
  test_aot();
  test_graph();
  test_link();
  test_memory();
  test_rpc();
  test_timer();
  printf("%d passed, %d failed\n", g_tests_passed, g_tests_failed);
  return g_tests_failed ? 1 : 0;
}
