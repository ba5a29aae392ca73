"""utvm's Python side: it builds firmware, starts targets, talks to them, compiles models and tests them.

Sub-packages, lowest layer first (an import-linter contract in pyproject.toml keeps this order):

- ``link``: byte pipes to a device (child process, serial port), microTVM framing and sessions.
- ``rpc``: TVM's RPC protocol: the codec and a client with numpy tensors.
- ``targets``: what a target is (compiler, port, features), the registry of them, and how each kind starts.
- ``build``: firmware images and their footprint.
- ``device``: a running image with an open session; the device under test a suite shares; the bench.
- ``models``, ``testing``, ``sim``: model compilation and deployment; the pytest plugin; virtual boards.
- ``cli``: the ``utvm`` command.

``errors`` and ``resources`` (the files the package carries) are used by every layer.
"""
