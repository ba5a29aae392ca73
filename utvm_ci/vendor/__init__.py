"""The vendor flow: scaffold a real-board port, and validate it into a verifiable conformance bundle."""
