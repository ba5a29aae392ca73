/*
 * Port for Arm MPS2/MPS3 FPGA images (CMSDK peripherals), as emulated by QEMU.
 * Board facts arrive as -D flags generated from boards/qemu/boards.toml:
 *   UTVM_BOARD_CPU_HZ     processor clock in Hz
 *   UTVM_BOARD_TIMER_*    the clock (timer_*.c: which one links is the board's choice)
 *   UTVM_BOARD_UART_BASE  CMSDK APB UART used for the link
 *   UTVM_BOARD_UART_IRQS  its interrupt lines, e.g. {0, 1}
 */
#ifndef UTVM_MPS2_PORT_H_
#define UTVM_MPS2_PORT_H_

#include <stdint.h>

#ifndef UTVM_BOARD_CPU_HZ
#error "UTVM_BOARD_CPU_HZ must come from the board description"
#endif

#define MMIO32(addr) (*(volatile uint32_t*)(uintptr_t)(addr))

/* System control space (every Armv7-M / Armv8-M core). */
#define SCB_AIRCR MMIO32(0xE000ED0Cu)
#define SCB_AIRCR_SYSRESET 0x05FA0004u
#define NVIC_ISER(n) MMIO32(0xE000E100u + 4u * (n))

static inline void irq_disable(void) { __asm volatile("cpsid i" ::: "memory"); }
static inline void irq_enable(void) { __asm volatile("cpsie i" ::: "memory"); }
/* Mask interrupts, returning the previous mask for irq_restore (nests, unlike irq_enable). */
static inline uint32_t irq_save(void) {
  uint32_t primask;
  __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
  return primask;
}
static inline void irq_restore(uint32_t primask) {
  __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
}
static inline void wait_for_interrupt(void) { __asm volatile("dsb\n wfi" ::: "memory"); }
static inline uint32_t active_irq(void) {
  uint32_t ipsr;
  __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
  return ipsr & 0x1FFu;
}
static inline void nvic_enable(uint32_t irq) { NVIC_ISER(irq / 32u) = 1u << (irq % 32u); }

/* The clock the image was built with (timer_*.c): one of them links. */
void utvm_mps2_timer_init(void);

/* The transport the image was built with (transport_*.c): one of them links. */
void utvm_mps2_transport_init(void);
void utvm_mps2_transport_irq(uint32_t irq);

/* Port counters shared between platform.c and the transport. */
enum {
  MPS2_CNT_RX_BYTES,
  MPS2_CNT_RX_IRQS,
  MPS2_CNT_RX_OVERRUNS,   /* bytes lost because the software ring was full */
  MPS2_CNT_HW_OVERRUNS,   /* bytes lost in the UART itself */
  MPS2_CNT_RX_HIGH_WATER, /* most bytes buffered at once */
  MPS2_CNT_RX_RING_SIZE,
  MPS2_CNT_STACK_USED,    /* deepest stack use since boot (the startup code paints the stack) */
  MPS2_CNT_STACK_SIZE,
  MPS2_NUM_COUNTERS
};
extern uint32_t utvm_mps2_counters[MPS2_NUM_COUNTERS];

#endif /* UTVM_MPS2_PORT_H_ */
