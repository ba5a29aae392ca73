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

/* Bring up clocks, timer and transport. Called once, before anything else. */
utvm_status_t utvm_platform_init(void);

/* Unrecoverable error: halt or reset the device. Must not return. */
UTVM_NORETURN void utvm_platform_abort(utvm_status_t code);

/*
 * Timer. start() begins a measurement; stop() ends it and writes the elapsed
 * time in SECONDS (double). Resolution is the port's (document it); a port must
 * measure intervals of at least 10 s without wrapping. Not re-entrant.
 */
utvm_status_t utvm_platform_timer_start(void);
utvm_status_t utvm_platform_timer_stop(double* elapsed_seconds);

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
