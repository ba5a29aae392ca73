"""utvm's CI service: the pre-submit job, the nightly hardware-in-the-loop runner and the vendor flow.

- ``presubmit``: the acceptance suite on host and every QEMU board, in containers.
- ``lab``: the lab's inventory, board leases, access to a board's port, health checks, virtual labs.
- ``night``: the nightly runner: shards of the suite per board, retries of infrastructure faults, the
  night's reports (JUnit, summary.json, index.html), the schedule.
- ``results``: history, flakiness and quarantine, and the report page.
- ``vendor``: scaffolding a port and the conformance bundle of ``utvm validate``.
- ``cli``: the ``utvm ci``, ``hil``, ``port`` and ``validate`` commands, registered through an entry point.
"""
