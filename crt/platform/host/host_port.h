/* Host-port extras beyond platform.h. */
#ifndef UTVM_HOST_PORT_H_
#define UTVM_HOST_PORT_H_

/* Use these descriptors for the transport (default stdin/stdout). */
void utvm_host_set_fds(int in_fd, int out_fd);

#endif
