/*
 * Compile-time sizes. Every value may be overridden with -D by a port or build.
 * RAM figures per item are noted so a port can budget.
 */
#ifndef UTVM_CONFIG_H_
#define UTVM_CONFIG_H_

/* Largest RPC packet (after its 8-byte length) the device accepts; also what
 * tvm.rpc.server.GetCRTMaxPacketSize reports. RAM: this + 11 bytes. */
#ifndef UTVM_MAX_PACKET_SIZE
#define UTVM_MAX_PACKET_SIZE 2048
#endif

/* Scratch for decoded arguments (TVMFFIAny arrays, DLTensor structs, shapes). */
#ifndef UTVM_ARG_ARENA_SIZE
#define UTVM_ARG_ARENA_SIZE 1024
#endif

/* Output staging buffer for escaped frame bytes before a platform write. */
#ifndef UTVM_TX_CHUNK
#define UTVM_TX_CHUNK 64
#endif

/* Bytes read from the transport per platform read call (framed mode). */
#ifndef UTVM_RX_CHUNK
#define UTVM_RX_CHUNK 32
#endif

/* Longest error message kept for the host (kind + message). */
#ifndef UTVM_ERROR_MSG_SIZE
#define UTVM_ERROR_MSG_SIZE 160
#endif

/* Time-evaluator closures alive at once, and repeats each can record. */
#ifndef UTVM_MAX_CLOSURES
#define UTVM_MAX_CLOSURES 2
#endif
#ifndef UTVM_MAX_TIMER_REPEATS
#define UTVM_MAX_TIMER_REPEATS 16
#endif

/* Built-in test functions (utvm.testing.*) the acceptance suite calls: 1 in test images
 * (harness.build.build(..., testing=True)), 0 in production ones. */
#ifndef UTVM_ENABLE_TESTING_GLOBALS
#define UTVM_ENABLE_TESTING_GLOBALS 0
#endif

#endif /* UTVM_CONFIG_H_ */
