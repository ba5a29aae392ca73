/* Startup of the bare-metal test programs (bm.h) on QEMU's Cortex-M boards: vector table, reset
 * (copy .data, zero .bss, FPU and MVE access, SysTick running), main's return value as the exit
 * status through semihosting SYS_EXIT_EXTENDED; a fault exits with status 3. Linked with bm.ld. */
#include <stdint.h>
#include <string.h>

#include "bm.h"

extern uint32_t __stack_top[];
extern uint8_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern int main(void);

void bm_reset(void) __attribute__((noreturn));
void bm_fault(void) __attribute__((noreturn));

#define CPACR (*(volatile uint32_t*)0xE000ED88u)
#define SYST_CSR (*(volatile uint32_t*)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t*)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t*)0xE000E018u)

typedef void (*bm_vector)(void);

__attribute__((section(".vectors"), used)) const bm_vector bm_vectors[16] = {
    (bm_vector)(uintptr_t)__stack_top, bm_reset, bm_fault, bm_fault, bm_fault, bm_fault, bm_fault,
    bm_fault,
};

static uint32_t semihost(uint32_t op, const void* arg) {
  register uint32_t r0 __asm("r0") = op;
  register const void* r1 __asm("r1") = arg;
  __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static void __attribute__((noreturn)) bm_exit(int status) {
  const uint32_t block[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, (uint32_t)status};
  semihost(0x20u /* SYS_EXIT_EXTENDED */, block);
  for (;;) {
  }
}

void bm_puts(const char* s) { semihost(0x04u /* SYS_WRITE0 */, s); }

uint32_t bm_ticks(void) { return SYST_CVR; }

void bm_spin(uint32_t n) {
  __asm volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n) : : "cc");
}

void bm_reset(void) {
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
  CPACR |= 0xFu << 20; /* CP10, CP11: full access (the FPU, and MVE on Armv8.1-M) */
  __asm volatile("dsb\n isb" ::: "memory");
#endif
  memcpy(__data_start, __data_load, (size_t)(__data_end - __data_start));
  memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
  SYST_RVR = 0xFFFFFFu;
  SYST_CVR = 0u;
  SYST_CSR = 5u; /* enabled, processor clock, no interrupt */
  bm_exit(main());
}

void bm_fault(void) {
  bm_puts("bm: fault\n");
  bm_exit(3);
}
