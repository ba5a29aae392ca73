/* Part of a library made by `utvm package --executor aot` (never of an image): the port functions
 * the runtime's timer reads, for a firmware without a port. Without a counter every profiled call
 * takes 0 ticks; a firmware's own definitions win. */
#include <stdint.h>

#include "utvm/platform.h"

__attribute__((weak)) uint64_t utvm_platform_timer_ticks(void) { return 0; }
__attribute__((weak)) uint64_t utvm_platform_timer_hz(void) { return 1; }
