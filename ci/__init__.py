"""utvm's CI service (importable as `utvm_ci`): the pre-submit job; later the nightly
hardware-in-the-loop runner and the vendor flow."""
