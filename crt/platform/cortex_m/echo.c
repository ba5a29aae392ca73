/*
 * Transport floor: echoes every byte back through the port's transport, with
 * no framing and no RPC. `utvm bench` times it beside the runtime to measure
 * what the link itself costs (byte round trip, raw throughput).
 */
#include "utvm/platform.h"

int main(void) {
  static uint8_t buf[256];
  if (utvm_platform_init() != UTVM_OK) utvm_platform_abort(UTVM_ERR_PLATFORM);
  for (;;) {
    int32_t n = utvm_platform_read(buf, sizeof(buf));
    if (n > 0 && utvm_platform_write(buf, (size_t)n) != n) utvm_platform_abort(UTVM_ERR_IO);
  }
}
