"""The pytest plugin that runs one black-box suite on any target, its run settings and its reports."""
