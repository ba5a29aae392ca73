/*
 * Firmware entry for bare-metal Cortex-M boards (the QEMU MPS2 boards and real boards alike):
 * heaps over the RAM the linker left free, then serve the link. A port supplies only the
 * platform functions; its board description may set UTVM_WORKSPACE_SIZE.
 */
#include "utvm/platform.h"
#include "utvm/runtime.h"
#include "utvm/server.h"

/* Bytes of the free RAM given to kernel workspaces; the data heap gets the rest. */
#ifndef UTVM_WORKSPACE_SIZE
#define UTVM_WORKSPACE_SIZE (256u * 1024u)
#endif

extern const utvm_func_registry_t utvm_system_lib_registry;
/* Global functions a model adds (utvm.graph.create); defined by a generated model source. */
extern const utvm_func_registry_t* const utvm_image_globals __attribute__((weak));
extern uint8_t __heap_start[], __heap_end[]; /* from crt/platform/cortex_m/cortex-m.ld */

static utvm_std_allocator_t g_data;
static utvm_std_allocator_t g_workspace;
static utvm_server_t g_server;

int main(void) {
  size_t free_ram = (size_t)(__heap_end - __heap_start);
  if (free_ram <= UTVM_WORKSPACE_SIZE) utvm_platform_abort(UTVM_ERR_NO_MEMORY);
  if (utvm_platform_init() != UTVM_OK ||
      utvm_std_allocator_init(&g_workspace, __heap_start, UTVM_WORKSPACE_SIZE) != UTVM_OK ||
      utvm_std_allocator_init(&g_data, __heap_start + UTVM_WORKSPACE_SIZE,
                              free_ram - UTVM_WORKSPACE_SIZE) != UTVM_OK) {
    utvm_platform_abort(UTVM_ERR_PLATFORM);
  }
  utvm_runtime_config_t cfg = {&utvm_system_lib_registry, &g_data.base, &g_workspace.base,
                               &utvm_image_globals != NULL ? utvm_image_globals : NULL};
  if (utvm_runtime_init(&cfg) != UTVM_OK) utvm_platform_abort(UTVM_ERR_PLATFORM);
  for (;;) {
    (void)utvm_serve_framed(&g_server); /* returns only if the link failed: start over */
  }
}
