"""Invitations: sponsoring a newcomer, and the join page an invitation link opens."""
