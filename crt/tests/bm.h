/* A bare-metal test program's few services (bm_startup.c): text out and exit status through
 * semihosting, and SysTick for counting. Used by kernel_check.c and kernel_bench.c when they run
 * on a QEMU Cortex-M board with no runtime (qemu-system-arm -semihosting-config enable=on). */
#ifndef UTVM_TESTS_BM_H_
#define UTVM_TESTS_BM_H_

#include <stdint.h>

void bm_puts(const char* s);
/* SysTick's down-counter (24 bits, processor clock), free-running from reset. */
uint32_t bm_ticks(void);
/* 2 * n + 1 instructions (a SUBS/BNE loop), to calibrate ticks per instruction under -icount. */
void bm_spin(uint32_t n);

#endif
