/*
 * What a kernel's plain C entry (utvm_k_<kernel>, the AOT executor's; harness/models/compile/unpacked.py)
 * reads its arguments with: args[i], the data of its tensor argument i.
 */
#ifndef UTVM_AOT_KERNEL_H_
#define UTVM_AOT_KERNEL_H_

#ifdef __cplusplus
extern "C" {
#endif

static inline void* utvm_aot_arg(void* args, int i) { return ((void* const*)args)[i]; }

#ifdef __cplusplus
}
#endif
#endif /* UTVM_AOT_KERNEL_H_ */
