/*
 * Startup for Armv7-M / Armv8-M / Armv8.1-M Mainline cores: vector table, reset handler
 * (copy .data, and the model parameters when the image runs them from RAM; zero .bss; enable the FPU
 * and MVE (Helium) when the image uses them), and fault handlers that reset the core so the host sees
 * a typed reset, not a hang.
 */
#include <stdint.h>
#include <string.h>

#define NUM_EXTERNAL_IRQS 96

extern uint32_t __stack_top[], __stack_bottom[];
#define STACK_PAINT 0xA5A5A5A5u /* also in crt/platform/mps2/platform.c */
extern uint8_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint8_t __params_load[], __params_start[], __params_end[]; /* all 0 unless params.ld sets them */
extern int main(void);

void Reset_Handler(void) __attribute__((noreturn));
void Fault_Handler(void) __attribute__((noreturn));
void Default_Handler(void);
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));
void External_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));

#define VTOR (*(volatile uint32_t*)0xE000ED08u)
#define CPACR (*(volatile uint32_t*)0xE000ED88u)
#define AIRCR (*(volatile uint32_t*)0xE000ED0Cu)
/* Cortex-M55 (and M85) power mode control: CPDLPSTATE.ELPSTATE, bits [9:8], is the low-power state of
 * the extension processing unit (FPU and MVE) domain; it is 0b11 (off) after a cold reset. */
#define CPDLPSTATE (*(volatile uint32_t*)0xE001E300u)
#define CPDLPSTATE_ELPSTATE (3u << 8)

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used)) const vector_t utvm_vectors[16 + NUM_EXTERNAL_IRQS] = {
    (vector_t)(uintptr_t)__stack_top,
    Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    Fault_Handler, /* SecureFault (Armv8-M) */
    0, 0, 0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMonitor */
    0,
    Default_Handler, /* PendSV */
    SysTick_Handler,
    [16 ... 16 + NUM_EXTERNAL_IRQS - 1] = External_IRQHandler,
};

void Reset_Handler(void) {
  VTOR = (uint32_t)(uintptr_t)utvm_vectors;
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
  /* CP10 and CP11: full access to the FPU and, on Armv8.1-M, to MVE (which shares their enables). */
  CPACR |= 0xFu << 20;
#if defined(__ARM_FEATURE_MVE)
  CPDLPSTATE &= ~CPDLPSTATE_ELPSTATE; /* the FPU/MVE domain on (0b00) */
#endif
  __asm volatile("dsb\n isb" ::: "memory");
#endif
  memcpy(__data_start, __data_load, (size_t)(__data_end - __data_start));
  memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
  size_t params_size = (size_t)(__params_end - __params_start);
  if (params_size != 0u) memcpy(__params_start, __params_load, params_size);
  /* Paint the stack below us, so the port can tell how deep it ever got (stack_used). */
  uint32_t sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  for (uint32_t* w = (uint32_t*)__stack_bottom; (uintptr_t)w < sp - 256u; ++w) *w = STACK_PAINT;
  (void)main();
  Fault_Handler();
}

void Fault_Handler(void) {
  AIRCR = 0x05FA0004u; /* SYSRESETREQ */
  for (;;) {
  }
}

void Default_Handler(void) {}
