/*
 * Whether a build takes the packed weights of the batch-1 fully-connected call (utvm_blk_fc_call with
 * packed 1, utvm/dsp_blocked_fcp.h): cores with the DSP extension that take the SMLAD path of
 * utvm/dsp_blocked.h (Cortex-M4, M7, M33). Helium cores (Cortex-M55, M85), the M3 and the host take
 * the weights in their file order. A model's parameter tables include this header where they hold
 * both forms of a layer's weights and bias (harness.models.compile.fc_pack): each build keeps one,
 * the same bytes long. Its loop is GNU inline assembly, so other compilers take the file order too.
 */
#ifndef UTVM_DSP_FCP_LAYOUT_H_
#define UTVM_DSP_FCP_LAYOUT_H_

#if defined(__GNUC__) && defined(__thumb2__) && defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && \
    !defined(UTVM_BLK_PORTABLE) && !(defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1))
#define UTVM_BLK_FCP_PACKED 1
#else
#define UTVM_BLK_FCP_PACKED 0
#endif

#endif /* UTVM_DSP_FCP_LAYOUT_H_ */
