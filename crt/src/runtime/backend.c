/* The backend API TVM-generated kernels call: workspace memory. */
#include "tvm/runtime/c_backend_api.h"
#include "utvm/runtime.h"

void* TVMBackendAllocWorkspace(int device_type, int device_id, uint64_t nbytes,
                               int dtype_code_hint, int dtype_bits_hint) {
  (void)device_id;
  (void)dtype_code_hint;
  (void)dtype_bits_hint;
  if (device_type != kDLCPU) {
    utvm_error_set("ValueError", "workspace requested for a device other than cpu");
    return NULL;
  }
  utvm_allocator_t* ws = utvm_runtime_config()->workspace;
  void* p = (nbytes <= SIZE_MAX) ? utvm_alloc(ws, (size_t)nbytes, 16) : NULL;
  if (p == NULL) {
    char req[21], avail[21];
    utvm_alloc_stats_t st;
    utvm_alloc_get_stats(ws, &st);
    const char* parts[5] = {"workspace exhausted: kernel requested ", utvm_fmt_u64(req, nbytes),
                            " bytes, largest free block is ",
                            utvm_fmt_u64(avail, st.largest_free), " bytes"};
    utvm_error_set_parts("MemoryError", parts, 5);
  }
  return p;
}

int TVMBackendFreeWorkspace(int device_type, int device_id, void* ptr) {
  (void)device_type;
  (void)device_id;
  if (utvm_free(utvm_runtime_config()->workspace, ptr) != UTVM_OK) {
    utvm_error_set("RuntimeError", "TVMBackendFreeWorkspace: pointer not from the workspace");
    return -1;
  }
  return 0;
}
