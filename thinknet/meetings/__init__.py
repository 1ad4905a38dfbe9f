"""Meetings: the weekly breakfast sessions and their RSVPs."""
