"""What nights leave behind: history, flakiness and quarantine, and the report page."""
