"""The lab: its inventory, board leases, access to a board's port, health checks and virtual labs."""
