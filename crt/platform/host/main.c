/*
 * The host target's executable.
 *   ARTIFACT                  framed session on stdin/stdout (what the harness uses)
 *   ARTIFACT READ_FD WRITE_FD raw RPC on those descriptors (tvm.rpc.PopenSession)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_port.h"
#include "utvm/platform.h"
#include "utvm/runtime.h"
#include "utvm/server.h"

#ifndef UTVM_HOST_DATA_HEAP
#define UTVM_HOST_DATA_HEAP (64u << 20)
#endif
#ifndef UTVM_HOST_WORKSPACE
#define UTVM_HOST_WORKSPACE (16u << 20)
#endif

extern const utvm_func_registry_t utvm_system_lib_registry;
/* Global functions a model adds (utvm.graph.create); defined by a generated model source. */
extern const utvm_func_registry_t* const utvm_image_globals __attribute__((weak));

static _Alignas(64) uint8_t g_data_heap[UTVM_HOST_DATA_HEAP];
static _Alignas(64) uint8_t g_workspace_heap[UTVM_HOST_WORKSPACE];
static utvm_std_allocator_t g_data;
static utvm_std_allocator_t g_workspace;
static utvm_server_t g_server;

static int parse_fd(const char* s) {
  char* end = NULL;
  long v = strtol(s, &end, 10);
  return (end != s && *end == '\0' && v >= 0 && v < 65536) ? (int)v : -1;
}

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc != 1 && argc != 3) {
    fprintf(stderr, "usage: %s            (framed session on stdin/stdout)\n"
                    "       %s READ_FD WRITE_FD (raw TVM RPC, for tvm.rpc.PopenSession)\n",
            argv[0], argv[0]);
    return 2;
  }
  if (argc == 3) {
    int in_fd = parse_fd(argv[1]), out_fd = parse_fd(argv[2]);
    if (in_fd < 0 || out_fd < 0) {
      fprintf(stderr, "%s: READ_FD and WRITE_FD must be file descriptor numbers\n", argv[0]);
      return 2;
    }
    utvm_host_set_fds(in_fd, out_fd);
  }
  if (utvm_platform_init() != UTVM_OK ||
      utvm_std_allocator_init(&g_data, g_data_heap, sizeof(g_data_heap)) != UTVM_OK ||
      utvm_std_allocator_init(&g_workspace, g_workspace_heap, sizeof(g_workspace_heap)) != UTVM_OK) {
    fprintf(stderr, "utvm: initialisation failed\n");
    return 1;
  }
  utvm_runtime_config_t cfg = {&utvm_system_lib_registry, &g_data.base, &g_workspace.base,
                               &utvm_image_globals != NULL ? utvm_image_globals : NULL};
  if (utvm_runtime_init(&cfg) != UTVM_OK) return 1;
  utvm_status_t st = argc == 3 ? utvm_serve_raw(&g_server) : utvm_serve_framed(&g_server);
  if (st == UTVM_OK || st == UTVM_ERR_EOF) return 0;
  fprintf(stderr, "utvm: server stopped: %s\n", utvm_status_str(st));
  return 1;
}
