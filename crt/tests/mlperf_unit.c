/* Unit tests of the MLPerf Tiny protocol parser (crt/mlperf/mlperf.c); prints "N passed, N failed".
 * Its own program: built with the parser and no runtime (tests/test_mlperf_fw.py). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "mlperf_fake.h"

int g_checks_failed, g_tests_passed, g_tests_failed;

static utvm_mlperf_t g_m;

/* Send one command; the reply (every line it wrote) must be exactly `want`. */
static int reply_is(const char* command, const char* want) {
  g_fake_out_len = 0;
  g_fake_out[0] = 0;
  fake_send(&g_m, command);
  if (strcmp(g_fake_out, want) != 0) {
    fprintf(stderr, "command %s\n  got:  %s\n  want: %s\n", command, g_fake_out, want);
    return 0;
  }
  return 1;
}

static void load_input(const char* hex) {
  fake_send(&g_m, "db load 6%");
  char cmd[64];
  snprintf(cmd, sizeof cmd, "db %s%%", hex);
  fake_send(&g_m, cmd);
}

static void test_boot_lines(void) {
  fake_reset(&g_m);
  CHECK(strcmp(g_fake_out, "m-timestamp-mode-performance\r\nm-lap-us-1000\r\nm-init-done\r\nm-ready\r\n") == 0);
}

static void test_name_profile_timestamp_help(void) {
  fake_reset(&g_m);
  CHECK(reply_is("name%", "m-name-dut-[utvm-test]\r\nm-ready\r\n"));
  CHECK(reply_is("profile%", "m-profile-[ULPMark for tinyML Firmware V0.0.1]\r\nm-model-[kws01]\r\nm-ready\r\n"));
  CHECK(reply_is("timestamp%", "m-lap-us-2000\r\nm-ready\r\n"));
  CHECK(reply_is("  timestamp  %", "m-lap-us-3000\r\nm-ready\r\n"));
  CHECK(reply_is("\r\nname%", "m-name-dut-[utvm-test]\r\nm-ready\r\n"));
  CHECK(reply_is("%", "m-ready\r\n"));
  g_fake_out_len = 0;
  fake_send(&g_m, "help%");
  CHECK(strstr(g_fake_out, "infer N [W=10]") != NULL);
  CHECK(strstr(g_fake_out, "\r\nm-ready\r\n") != NULL);
}

static void test_load_in_chunks_then_infer(void) {
  fake_reset(&g_m);
  CHECK(reply_is("db load 6%", "m-[Expecting 6 bytes]\r\nm-ready\r\n"));
  CHECK(reply_is("db 007F%", "m-ready\r\n"));
  CHECK(reply_is("db 800a%", "m-ready\r\n"));
  CHECK(reply_is("db print%", "m-buffer-00-7f-80-0a\r\nm-ready\r\n"));
  CHECK(reply_is("db 01fF%", "m-load-done\r\nm-ready\r\n"));
  CHECK(reply_is("infer 3 2%",
                 "m-warmup-start-2\r\nm-warmup-done\r\nm-infer-start-3\r\nm-lap-us-2500\r\nm-lap-us-4250\r\n"
                 "m-infer-done\r\nm-results-[0.5000000,0.9960938,0.000000,2.500000,-1.000000,255]\r\nm-ready\r\n"));
  CHECK(g_fake_runs == 5);
  CHECK(reply_is("results%", "m-results-[0.5000000,0.9960938,0.000000,2.500000,-1.000000,255]\r\nm-ready\r\n"));
  g_fake_runs = 0;
  CHECK(reply_is("infer%", /* the reference's defaults: 1 run after 10 warm-ups */
                 "m-warmup-start-10\r\nm-warmup-done\r\nm-infer-start-1\r\nm-lap-us-7750\r\nm-lap-us-9000\r\n"
                 "m-infer-done\r\nm-results-[0.5000000,0.9960938,0.000000,2.500000,-1.000000,255]\r\nm-ready\r\n"));
  CHECK(g_fake_runs == 11);
  CHECK(reply_is("db load 6%", "m-[Expecting 6 bytes]\r\nm-ready\r\n"));
  CHECK(reply_is("infer 1 0%", "e-[No input: send db load N and its bytes first]\r\nm-ready\r\n"));
}

static void test_real_numbers(void) {
  fake_reset(&g_m);
  load_input("000000000000");
  fake_send(&g_m, "infer 1 0%");
  static const struct {
    float v;
    const char* text;
  } cases[] = {
      {0.0f, "0.000000"},
      {1.0f, "1.000000"},
      {-0.25f, "-0.2500000"},
      {123456.75f, "123456.750000"},
      {0.0142538585f, "0.01425386"},
      {0.00025f, "0.0002500000"},
      {1e-5f, "1.000000e-5"},
      {-3.5e-7f, "-3.500000e-7"},
      {1e15f, "1.000000e15"},
      {9.9999999e12f, "1.000000e13"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    char want[128];
    g_fake_f[0] = cases[i].v;
    snprintf(want, sizeof want, "m-results-[0.5000000,0.5000000,0.5000000,%s,0.000000,0]\r\nm-ready\r\n",
             cases[i].text);
    g_fake_f[1] = -0.0f;
    CHECK(reply_is("results%", want));
  }
  g_fake_f[0] = NAN;
  g_fake_f[1] = -INFINITY;
  CHECK(reply_is("results%", "m-results-[0.5000000,0.5000000,0.5000000,nan,-inf,0]\r\nm-ready\r\n"));
}

static void test_bad_commands_get_errors_and_change_nothing(void) {
  fake_reset(&g_m);
  CHECK(reply_is("bogus%", "e-[Unknown command: bogus]\r\nm-ready\r\n"));
  CHECK(reply_is("na\001me%", "e-[Unknown command: na?me]\r\nm-ready\r\n"));
  CHECK(reply_is("name x%", "e-[Command 'name' takes no arguments]\r\nm-ready\r\n"));
  CHECK(reply_is("results%", "e-[No results: run infer first]\r\nm-ready\r\n"));
  CHECK(reply_is("db%", "e-[Command 'db' requires a subcommand: load N, print, or hex bytes]\r\nm-ready\r\n"));
  CHECK(reply_is("db 0011%", "e-[No load in progress: send db load N first]\r\nm-ready\r\n"));
  CHECK(reply_is("db load%", "e-[Command 'db load' requires the # of bytes, and nothing more]\r\nm-ready\r\n"));
  CHECK(reply_is("db load 1x%", "e-[Invalid number '1x': expected 1 to 9 decimal digits]\r\nm-ready\r\n"));
  CHECK(reply_is("db load -6%", "e-[Invalid number '-6': expected 1 to 9 decimal digits]\r\nm-ready\r\n"));
  CHECK(reply_is("db load 9999999999%",
                 "e-[Invalid number '9999999999': expected 1 to 9 decimal digits]\r\nm-ready\r\n"));
  CHECK(reply_is("db load 7%", "e-[db load 7: the model's input is 6 bytes]\r\nm-ready\r\n"));
  CHECK(reply_is("infer 1 0%", "e-[No input: send db load N and its bytes first]\r\nm-ready\r\n"));
  CHECK(reply_is("db load 6%", "m-[Expecting 6 bytes]\r\nm-ready\r\n"));
  CHECK(reply_is("db 001%", "e-[Insufficient number of hex digits]\r\nm-ready\r\n"));
  CHECK(reply_is("db 00zz%", "e-[Invalid hex digit 'zz']\r\nm-ready\r\n"));
  CHECK(reply_is("db 0g%", "e-[Invalid hex digit '0g']\r\nm-ready\r\n"));
  CHECK(reply_is("db 00 11%", "e-[Command 'db' takes one hex string at a time]\r\nm-ready\r\n"));
  CHECK(reply_is("db 00112233445566%", "e-[Too many bytes: 7 sent, 6 still expected]\r\nm-ready\r\n"));
  CHECK(reply_is("db 0011%", "m-ready\r\n"));
  CHECK(reply_is("db 2233445566%", "e-[Too many bytes: 5 sent, 4 still expected]\r\nm-ready\r\n"));
  CHECK(reply_is("db 22334455%", "m-load-done\r\nm-ready\r\n"));
  CHECK(reply_is("db 00%", "e-[Too many bytes: 1 sent, 0 still expected]\r\nm-ready\r\n"));
  CHECK(reply_is("infer 0%", "e-[Inference iterations must be >0]\r\nm-ready\r\n"));
  CHECK(reply_is("infer one%", "e-[Invalid number 'one': expected 1 to 9 decimal digits]\r\nm-ready\r\n"));
  CHECK(reply_is("infer 1 -1%", "e-[Invalid number '-1': expected 1 to 9 decimal digits]\r\nm-ready\r\n"));
  CHECK(reply_is("infer 1 2 3%", "e-[Command 'infer' takes N and W, and nothing more]\r\nm-ready\r\n"));
  CHECK(reply_is("a b c d e f%", "e-[Too many arguments]\r\nm-ready\r\n"));
  CHECK(g_fake_runs == 0);
  char longline[UTVM_MLPERF_LINE_MAX + 3];
  memset(longline, 'x', sizeof longline);
  longline[UTVM_MLPERF_LINE_MAX + 1] = '%';
  longline[UTVM_MLPERF_LINE_MAX + 2] = 0;
  CHECK(reply_is(longline, "e-[Command too long: more than 80 characters]\r\nm-ready\r\n"));
  longline[UTVM_MLPERF_LINE_MAX] = '%';
  longline[UTVM_MLPERF_LINE_MAX + 1] = 0;
  char want[UTVM_MLPERF_LINE_MAX + 64];
  snprintf(want, sizeof want, "e-[Unknown command: %.*s]\r\nm-ready\r\n", (int)UTVM_MLPERF_LINE_MAX, longline);
  CHECK(reply_is(longline, want));
  /* still serving, with the input loaded before the errors */
  CHECK(reply_is("db print%", "m-buffer-00-11-22-33-44-55\r\nm-ready\r\n"));
  CHECK(reply_is("name%", "m-name-dut-[utvm-test]\r\nm-ready\r\n"));
}

static void test_a_failing_inference_is_an_error(void) {
  fake_reset(&g_m);
  load_input("010203040506");
  g_fake_fail_at = 3;
  CHECK(reply_is("infer 5 1%", "m-warmup-start-1\r\nm-warmup-done\r\nm-infer-start-5\r\nm-lap-us-2250\r\n"
                               "e-[Inference failed: kernel fused_add failed]\r\nm-ready\r\n"));
  CHECK(reply_is("results%", "e-[No results: run infer first]\r\nm-ready\r\n"));
  g_fake_fail_at = 0;
  g_fake_runs = 0;
  CHECK(reply_is("infer 1 0%", "m-warmup-start-0\r\nm-warmup-done\r\nm-infer-start-1\r\nm-lap-us-3750\r\n"
                               "m-lap-us-5000\r\nm-infer-done\r\n"
                               "m-results-[0.5039063,0.5078125,0.5117188,1.000000,-5.000000,6]\r\nm-ready\r\n"));
}

static void test_bytes_one_at_a_time_equal_one_chunk(void) {
  static const char script[] =
      "name%db load 6%db 0a0b0c%db 0d0e0f%infer 2 1%results%bad%db zz%timestamp%";
  static char whole[4096];
  fake_reset(&g_m);
  fake_send(&g_m, script);
  memcpy(whole, g_fake_out, g_fake_out_len + 1);
  fake_reset(&g_m);
  for (size_t i = 0; i < sizeof(script) - 1; ++i) utvm_mlperf_feed(&g_m, (const uint8_t*)script + i, 1);
  CHECK(strcmp(whole, g_fake_out) == 0);
  CHECK(strstr(whole, "m-results-[0.5390625,0.5429688,0.5468750,3.250000,-14.000000,15]") != NULL);
}

int main(void) {
  RUN(test_boot_lines);
  RUN(test_name_profile_timestamp_help);
  RUN(test_load_in_chunks_then_infer);
  RUN(test_real_numbers);
  RUN(test_bad_commands_get_errors_and_change_nothing);
  RUN(test_a_failing_inference_is_an_error);
  RUN(test_bytes_one_at_a_time_equal_one_chunk);
  printf("%d passed, %d failed\n", g_tests_passed, g_tests_failed);
  return g_tests_failed ? 1 : 0;
}
