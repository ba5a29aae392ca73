"""The nightly run: the suite split over a target's healthy boards, infrastructure retries, the schedule."""
