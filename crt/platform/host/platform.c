/* Host (x86 Linux) port: POSIX file descriptors, CLOCK_MONOTONIC, getentropy. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "host_port.h"
#include "utvm/platform.h"

static int g_in_fd = 0;
static int g_out_fd = 1;

void utvm_host_set_fds(int in_fd, int out_fd) {
  g_in_fd = in_fd;
  g_out_fd = out_fd;
}

utvm_status_t utvm_platform_init(void) { return UTVM_OK; }

void utvm_platform_abort(utvm_status_t code) { _exit(100 + (int)code); }

/* Nanoseconds of CLOCK_MONOTONIC (0 if the clock fails: the runtime sees it run backwards). */
uint64_t utvm_platform_timer_ticks(void) {
  struct timespec now;
  if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) return 0;
  return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

uint64_t utvm_platform_timer_hz(void) { return 1000000000u; }

utvm_status_t utvm_platform_random(uint8_t* buf, size_t n) {
  return getentropy(buf, n) == 0 ? UTVM_OK : UTVM_ERR_PLATFORM;
}

int32_t utvm_platform_read(uint8_t* buf, size_t cap) {
  if (cap > INT32_MAX) cap = INT32_MAX;
  for (;;) {
    ssize_t r = read(g_in_fd, buf, cap);
    if (r >= 0) return (int32_t)r;
    if (errno != EINTR) return -1;
  }
}

int32_t utvm_platform_write(const uint8_t* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(g_out_fd, buf + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    done += (size_t)w;
  }
  return (int32_t)done;
}

const utvm_counter_t* utvm_platform_counters(size_t* n) {
  *n = 0;
  return NULL;
}
