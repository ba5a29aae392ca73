"""utvm harness: build firmware for a target, start it, and talk to it over RPC."""

__version__ = "0.1.0"
