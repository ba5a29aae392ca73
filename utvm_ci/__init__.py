"""utvm's CI service: the pre-submit job, the nightly hardware-in-the-loop runner and the vendor flow.

- ``presubmit``: the acceptance suite and the model tier on host and every QEMU board, in containers;
  the model tier's figures held to ``baselines/models.json``.
- ``lab``: the lab's inventory, board leases, access to a board's port, health checks, virtual labs.
- ``night``: the nightly runner: shards of the suite per board, retries of infrastructure faults, the
  night's reports (JUnit, summary.json, index.html), the schedule.
- ``results``: history, flakiness and quarantine, the report page, the model baseline and the
  regression rule for model figures over the nights.
- ``vendor``: scaffolding a port and the conformance bundle of ``utvm validate``.
- ``cli``: the ``utvm ci``, ``hil``, ``port`` and ``validate`` commands, registered through an entry point.
"""
