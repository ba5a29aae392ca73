/*
 * Link over Arm semihosting (SYS_READ/SYS_WRITE on the ":tt" console). Only
 * for emulators and debug probes: the core halts on every call.
 */
#include "mps2_port.h"
#include "utvm/platform.h"

enum { SYS_OPEN = 0x01, SYS_WRITE = 0x05, SYS_READ = 0x06, SYS_EXIT = 0x18 };
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
enum { MODE_READ = 0, MODE_WRITE = 4 };

static int32_t g_in = -1, g_out = -1;

static int32_t semihost(uint32_t op, const void* args) {
  register uint32_t r0 __asm("r0") = op;
  register const void* r1 __asm("r1") = args;
  __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return (int32_t)r0;
}

static int32_t open_console(uint32_t mode) {
  static const char kConsole[] = ":tt";
  const uint32_t args[3] = {(uint32_t)(uintptr_t)kConsole, mode, sizeof(kConsole) - 1};
  return semihost(SYS_OPEN, args);
}

void utvm_mps2_transport_init(void) {
  g_in = open_console(MODE_READ);
  g_out = open_console(MODE_WRITE);
}

void utvm_mps2_transport_irq(uint32_t irq) { (void)irq; }

int32_t utvm_platform_read(uint8_t* buf, size_t cap) {
  if (g_in < 0) return -1;
  const uint32_t args[3] = {(uint32_t)g_in, (uint32_t)(uintptr_t)buf, (uint32_t)cap};
  int32_t not_read = semihost(SYS_READ, args);
  if (not_read < 0 || (size_t)not_read > cap) return -1;
  int32_t got = (int32_t)(cap - (size_t)not_read);
  utvm_mps2_counters[MPS2_CNT_RX_BYTES] += (uint32_t)got;
  if (got == 0) { /* the host closed the console: nothing more can arrive, so stop */
    (void)semihost(SYS_EXIT, (const void*)ADP_STOPPED_APPLICATION_EXIT); /* AArch32: reason in r1 */
  }
  return got;
}

/* SYS_WRITE returns how many bytes it did NOT write: a busy host may take only part of
 * a buffer, so keep going until all of it is out (a call that takes nothing many times
 * in a row means the console is gone). */
int32_t utvm_platform_write(const uint8_t* buf, size_t n) {
  if (g_out < 0) return -1;
  size_t done = 0;
  for (int stalls = 0; done < n && stalls < 1000;) {
    const uint32_t args[3] = {(uint32_t)g_out, (uint32_t)(uintptr_t)(buf + done), (uint32_t)(n - done)};
    int32_t not_written = semihost(SYS_WRITE, args);
    if (not_written < 0 || (size_t)not_written > n - done) return -1;
    size_t wrote = (n - done) - (size_t)not_written;
    stalls = wrote == 0 ? stalls + 1 : 0;
    done += wrote;
  }
  return done == n ? (int32_t)n : -1;
}
