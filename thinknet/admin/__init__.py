"""Organizer pages under /admin; the organizer check for all of them lives in thinknet.access."""
