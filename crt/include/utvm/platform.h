/*
 * The functions a port implements. Everything else in crt/ is portable.
 * A port is crt/platform/<name>/ with these functions and a startup/main.
 */
#ifndef UTVM_PLATFORM_H_
#define UTVM_PLATFORM_H_

#include <stddef.h>
#include <stdint.h>

#include "utvm/status.h"

#ifdef __cplusplus
extern "C" {
#define UTVM_NORETURN [[noreturn]]
#else
#define UTVM_NORETURN _Noreturn /* C11 */
#endif

/* Bring up clocks, the counter and the transport. Called once, before anything else. */
utvm_status_t utvm_platform_init(void);

/* Unrecoverable error: halt or reset the device. Must not return. */
UTVM_NORETURN void utvm_platform_abort(utvm_status_t code);

/*
 * Time: a free-running counter. ticks() returns the count since an origin of the
 * port's choosing (boot, say); the count only goes up, at the fixed rate hz() (its
 * resolution: document it), and must not wrap while the device runs: keep it 64 bits
 * wide, extending a narrower hardware counter with a count of its wraps. ticks() must
 * be safe to call at any time, from anywhere the runtime runs.
 * Nesting: the port never starts, stops or resets the counter for anyone, and reading
 * it has no side effect, so any number of measurements may nest or overlap; each
 * remembers its own start reading (utvm/timer.h). No caller can disturb another's.
 */
uint64_t utvm_platform_timer_ticks(void);
uint64_t utvm_platform_timer_hz(void);

/* Fill buf with n random (or at least boot-varying) bytes; used for nonces. */
utvm_status_t utvm_platform_random(uint8_t* buf, size_t n);

/*
 * Transport. read() blocks until at least one byte is available and returns
 * how many it stored (1..cap), 0 at end of stream, or a negative value on error.
 * write() sends all n bytes and returns n, or a negative value on error.
 */
int32_t utvm_platform_read(uint8_t* buf, size_t cap);
int32_t utvm_platform_write(const uint8_t* buf, size_t n);

/*
 * The port's own counters (transport errors, interrupts, ...), reported under
 * "port" by utvm.Stats. Sets *n; returns NULL when the port has none.
 */
typedef struct {
  const char* name;
  uint32_t value;
} utvm_counter_t;
const utvm_counter_t* utvm_platform_counters(size_t* n);

#ifdef __cplusplus
}
#endif
#endif /* UTVM_PLATFORM_H_ */
