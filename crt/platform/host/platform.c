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
static struct timespec g_timer_start;

void utvm_host_set_fds(int in_fd, int out_fd) {
  g_in_fd = in_fd;
  g_out_fd = out_fd;
}

utvm_status_t utvm_platform_init(void) { return UTVM_OK; }

void utvm_platform_abort(utvm_status_t code) { _exit(100 + (int)code); }

utvm_status_t utvm_platform_timer_start(void) {
  return clock_gettime(CLOCK_MONOTONIC, &g_timer_start) == 0 ? UTVM_OK : UTVM_ERR_PLATFORM;
}

utvm_status_t utvm_platform_timer_stop(double* elapsed_seconds) {
  struct timespec now;
  if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) return UTVM_ERR_PLATFORM;
  *elapsed_seconds = (double)(now.tv_sec - g_timer_start.tv_sec) +
                     (double)(now.tv_nsec - g_timer_start.tv_nsec) * 1e-9;
  return UTVM_OK;
}

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
