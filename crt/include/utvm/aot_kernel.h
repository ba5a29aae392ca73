/*
 * What a kernel's plain C function (utvm_k_<kernel>: its loops, which its packed entry __tvm_ffi_<kernel>
 * and the AOT executor both call; harness/models/compile/unpacked.py) reads its arguments with: args[i],
 * the data of its tensor argument i; and how its packed entry passes them.
 */
#ifndef UTVM_AOT_KERNEL_H_
#define UTVM_AOT_KERNEL_H_

#ifdef __cplusplus
extern "C" {
#endif

/* A packed entry's call of its plain function: UTVM_KERNEL_ARGS(data0, data1, ...), the array. */
#define UTVM_KERNEL_ARGS(...) ((void*[]){__VA_ARGS__})

static inline void* utvm_aot_arg(void* args, int i) { return ((void* const*)args)[i]; }

#ifdef __cplusplus
}
#endif
#endif /* UTVM_AOT_KERNEL_H_ */
