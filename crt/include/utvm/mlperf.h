/*
 * MLPerf Tiny's device protocol (mlcommons/tiny, benchmark/api), spoken by a parser that is
 * fed the bytes a board's UART receives. ASCII commands end in '%'; every reply is a line
 * ending in "\r\n": `m-...` (a message) or `e-[...]` (an error), and every command ends with
 * `m-ready`. Bad input (unknown commands, malformed numbers, overlong lines, bad hex, more
 * bytes than announced) gets an `e-` line and changes nothing; the parser keeps serving.
 *
 *   boot          m-timestamp-mode-performance, m-lap-us-T, m-init-done, m-ready
 *   name%         m-name-dut-[DEVICE]
 *   profile%      m-profile-[ULPMark for tinyML Firmware V0.0.1], m-model-[MODEL]
 *   timestamp%    m-lap-us-T (microseconds of the board's timer)
 *   db load N%    m-[Expecting N bytes]  (N must be the model's input size)
 *   db HEX%       hex pairs, appended; m-load-done when N bytes have arrived
 *   db print%     m-buffer-xx-xx-... (the loaded bytes, 8 a line)
 *   infer N W%    m-warmup-start-W, m-warmup-done, m-infer-start-N, m-lap-us-T0, m-lap-us-T1,
 *                 m-infer-done, m-results-[r0,r1,...] (N timed runs between T0 and T1; N
 *                 defaults to 1 and W to 10, as in the reference)
 *   results%      m-results-[...] of the last inference
 *   help%         the commands
 *
 * Portable C11: no allocation, no libc beyond <string.h>; output, time and the model are the
 * caller's callbacks (utvm_mlperf_config_t). Not re-entrant: one parser per link.
 */
#ifndef UTVM_MLPERF_H_
#define UTVM_MLPERF_H_

#include <stddef.h>
#include <stdint.h>

#include "utvm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest command, in characters before the '%' (the reference's EE_CMD_SIZE). */
#define UTVM_MLPERF_LINE_MAX 80u

typedef enum {
  UTVM_MLPERF_F32 = 0,
  UTVM_MLPERF_I8 = 1,
  UTVM_MLPERF_U8 = 2,
  UTVM_MLPERF_I16 = 3,
  UTVM_MLPERF_U16 = 4,
  UTVM_MLPERF_I32 = 5,
} utvm_mlperf_dtype_t;

/* One model output as m-results prints it: float elements as they are; integer elements as
 * scale * (q - zero_point) when quantized, else as integers. */
typedef struct {
  const void* data; /* count elements, filled by fetch() */
  uint32_t count;
  uint8_t dtype;     /* utvm_mlperf_dtype_t */
  uint8_t quantized; /* integer outputs only */
  float scale;
  int32_t zero_point;
} utvm_mlperf_output_t;

typedef struct {
  const char* device_name; /* m-name-dut-[device_name] */
  const char* model_name;  /* m-model-[model_name]: kws01, vww01, ic01, ad01 */
  uint8_t* input;          /* where db commands put the bytes: input_bytes of them */
  size_t input_bytes;
  const utvm_mlperf_output_t* outputs;
  size_t num_outputs;
  void* ctx; /* passed to every callback */
  void (*write)(void* ctx, const char* text, size_t n);
  uint64_t (*now_us)(void* ctx);                                    /* the board's timer */
  utvm_status_t (*load)(void* ctx, const uint8_t* input, size_t n); /* the input into the model */
  utvm_status_t (*infer)(void* ctx);                                /* one inference */
  utvm_status_t (*fetch)(void* ctx); /* the last inference's outputs into outputs[i].data */
  const char* (*describe)(void* ctx, utvm_status_t st); /* why a callback failed; may be NULL */
} utvm_mlperf_config_t;

typedef struct {
  const utvm_mlperf_config_t* cfg;
  char line[UTVM_MLPERF_LINE_MAX];
  size_t len;
  uint8_t overflow;    /* the current line is longer than UTVM_MLPERF_LINE_MAX */
  uint8_t has_results; /* an inference has completed */
  size_t expect;       /* bytes announced by the last db load (0: none) */
  size_t loaded;       /* of them, received */
  char out[64];        /* output, flushed at each line end */
  size_t out_len;
} utvm_mlperf_t;

/* Set up over cfg (which must outlive m) and print the boot lines. */
void utvm_mlperf_init(utvm_mlperf_t* m, const utvm_mlperf_config_t* cfg);

/* Feed received bytes; each complete command is answered before this returns. */
void utvm_mlperf_feed(utvm_mlperf_t* m, const uint8_t* data, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* UTVM_MLPERF_H_ */
