"""Readers that turn what training tools write into a training summary."""
