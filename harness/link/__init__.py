"""The link to a device: byte transports (child process, serial port), framing and the session layer."""
