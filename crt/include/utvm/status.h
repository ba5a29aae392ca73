/* Status codes returned by every utvm C function that can fail. */
#ifndef UTVM_STATUS_H_
#define UTVM_STATUS_H_

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  UTVM_OK = 0,
  UTVM_ERR_NO_MEMORY = 1,   /* an allocator could not satisfy a request */
  UTVM_ERR_INVALID_ARG = 2, /* a caller passed a value outside the contract */
  UTVM_ERR_IO = 3,          /* the transport failed */
  UTVM_ERR_EOF = 4,         /* the transport was closed by the peer */
  UTVM_ERR_TOO_LARGE = 5,   /* a frame or packet exceeds a configured size */
  UTVM_ERR_NOT_FOUND = 6,   /* an unknown function, handle or name */
  UTVM_ERR_PLATFORM = 7,    /* a platform function failed */
  UTVM_ERR_STATE = 8,       /* call not valid in the current state */
  UTVM_ERR_KERNEL = 9,      /* a kernel returned an error (utvm_error_get() has it) */
} utvm_status_t;

/* Short constant description of a status, for messages. */
const char* utvm_status_str(utvm_status_t status);

#ifdef __cplusplus
}
#endif
#endif /* UTVM_STATUS_H_ */
