/*
 * Link over a CMSDK APB UART. Receive is interrupt driven into a ring that
 * holds a whole worst-case frame (every byte escaped), so a max-size packet
 * arriving while the runtime is busy never overflows. Transmit is polled.
 */
#include "mps2_port.h"
#include "utvm/byte_ring.h"
#include "utvm/config.h"
#include "utvm/platform.h"

#ifndef UTVM_BOARD_UART_BASE
#error "UTVM_BOARD_UART_BASE must come from the board description"
#endif

/* Smallest power of two holding a max packet, its 8-byte length and session
 * header, all escaped (2 bytes each), plus frame start, length and CRC. */
#define FRAME_WORST (2u * (UTVM_MAX_PACKET_SIZE + 8u + 3u + 2u + 2u) + 2u)
#define RING_SIZE                                                              \
  (FRAME_WORST <= 1024u ? 1024u : FRAME_WORST <= 2048u ? 2048u                 \
   : FRAME_WORST <= 4096u ? 4096u : FRAME_WORST <= 8192u ? 8192u                \
   : FRAME_WORST <= 16384u ? 16384u : FRAME_WORST <= 32768u ? 32768u : 65536u)
_Static_assert(FRAME_WORST <= RING_SIZE, "UART ring cannot hold a max-size frame");

#define UART_DATA MMIO32(UTVM_BOARD_UART_BASE + 0x00u)
#define UART_STATE MMIO32(UTVM_BOARD_UART_BASE + 0x04u)
#define UART_CTRL MMIO32(UTVM_BOARD_UART_BASE + 0x08u)
#define UART_INTCLEAR MMIO32(UTVM_BOARD_UART_BASE + 0x0Cu)
#define UART_BAUDDIV MMIO32(UTVM_BOARD_UART_BASE + 0x10u)
#define STATE_TX_FULL 0x1u
#define STATE_RX_FULL 0x2u
#define STATE_RX_OVERRUN 0x8u
#define CTRL_TX_EN 0x1u
#define CTRL_RX_EN 0x2u
#define CTRL_RX_INT_EN 0x8u
#define INT_RX 0x2u

static const uint32_t kUartIrqs[] = UTVM_BOARD_UART_IRQS;
static uint8_t g_ring_buf[RING_SIZE];
static utvm_byte_ring_t g_ring;

/* Move every byte the UART holds into the ring; runs in the ISR or with IRQs off. */
static void drain_uart(void) {
  uint32_t state;
  while ((state = UART_STATE) & STATE_RX_FULL) {
    (void)utvm_byte_ring_put(&g_ring, (uint8_t)UART_DATA);
    utvm_mps2_counters[MPS2_CNT_RX_BYTES]++;
  }
  if (state & STATE_RX_OVERRUN) {
    UART_STATE = STATE_RX_OVERRUN; /* write 1 to clear */
    utvm_mps2_counters[MPS2_CNT_HW_OVERRUNS]++;
  }
}

void utvm_mps2_transport_init(void) {
  (void)utvm_byte_ring_init(&g_ring, g_ring_buf, RING_SIZE);
  utvm_mps2_counters[MPS2_CNT_RX_RING_SIZE] = RING_SIZE;
  UART_BAUDDIV = 16u;
  UART_CTRL = CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_INT_EN;
  for (unsigned i = 0; i < sizeof(kUartIrqs) / sizeof(kUartIrqs[0]); ++i) nvic_enable(kUartIrqs[i]);
}

void utvm_mps2_transport_irq(uint32_t irq) {
  (void)irq;
  utvm_mps2_counters[MPS2_CNT_RX_IRQS]++;
  UART_INTCLEAR = INT_RX;
  drain_uart();
}

int32_t utvm_platform_read(uint8_t* buf, size_t cap) {
  for (;;) {
    size_t n = utvm_byte_ring_get(&g_ring, buf, cap);
    utvm_mps2_counters[MPS2_CNT_RX_OVERRUNS] = g_ring.overruns;
    utvm_mps2_counters[MPS2_CNT_RX_HIGH_WATER] = g_ring.high_water;
    if (n > 0) return (int32_t)n;
    irq_disable();
    drain_uart(); /* also covers a byte that arrived before its interrupt was taken */
    if (utvm_byte_ring_used(&g_ring) == 0) wait_for_interrupt(); /* wakes on a pending IRQ */
    irq_enable();
  }
}

int32_t utvm_platform_write(const uint8_t* buf, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    while (UART_STATE & STATE_TX_FULL) {
    }
    UART_DATA = buf[i];
  }
  return (int32_t)n;
}
