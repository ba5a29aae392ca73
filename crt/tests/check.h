/* A minimal test framework: CHECK records failures; RUN runs one test function. */
#ifndef UTVM_TESTS_CHECK_H_
#define UTVM_TESTS_CHECK_H_
#include <stdio.h>

extern int g_checks_failed;
extern int g_tests_passed, g_tests_failed;

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      g_checks_failed++;                                                \
    }                                                                   \
  } while (0)

#define RUN(test)                                         \
  do {                                                    \
    int before = g_checks_failed;                         \
    test();                                               \
    if (g_checks_failed == before) {                      \
      g_tests_passed++;                                   \
    } else {                                              \
      g_tests_failed++;                                   \
      fprintf(stderr, "FAILED: %s\n", #test);             \
    }                                                     \
  } while (0)

#endif
