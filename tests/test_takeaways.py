"""Takeaways: only attendees, once the session has started."""
from __future__ import annotations

import pytest

from meeting_helpers import meeting_in, member, organizer  # noqa: F401 (organizer is a fixture)
from thinknet.extensions import db
from thinknet.meetings import attendance, takeaways
from thinknet.models import Rsvp, RsvpAnswer


def test_only_attendees_add_takeaways_once_the_session_started(organizer):
    past, future = meeting_in(-2), meeting_in(24)
    came, absent = member("c@example.org"), member("a@example.org")
    attendance.toggle_attendance(past, came.id, organizer)
    takeaways.add_takeaway(past, came, "Say the hard thing early.")
    with pytest.raises(takeaways.TakeawayRefused):
        takeaways.add_takeaway(past, absent, "I was not there.")
    db.session.add(Rsvp(meeting_id=future.id, member_id=came.id, answer=RsvpAnswer.YES))
    with pytest.raises(takeaways.TakeawayRefused):
        takeaways.add_takeaway(future, came, "Too early.")
    assert [t.body for t in takeaways.takeaways(past)] == ["Say the hard thing early."]
