"""Bad input, nothing lost: generated text posted into every form never gives a 5xx; a refused form hands back
exactly what was typed, escaped, with a message by the field; valid text is stored exactly. And a stateful
test of RSVPs, cancellations and seat changes keeps the waitlist's invariants."""
from __future__ import annotations

import itertools
from datetime import time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from markupsafe import escape
from sqlalchemy import select

from conftest import csrf_token
from thinknet.extensions import db
from thinknet.forms import shows_something, without_control_characters, on_one_line
from thinknet.meetings import rsvps, schedule
from thinknet.models import Meeting, Member, Rsvp, RsvpAnswer, Topic, utcnow

TRICKY = ["<script>alert(1)</script>", "' OR 1=1 --", "\x00\x01\x1b[31mred", "日本語のテキスト 🍳", "a\u202eb",
          "&amp; &lt; \" '", "line one\nline two\r\n\tindented", "   ", ""]
text = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=120),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=2000, max_size=4000),
)
FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])

# Each form: where it is posted, the text fields fuzzed, and the other fields it needs to pass.
FORMS = {
    "topic": ("/topics/new", ["title", "details"], {"when": "backlog"}),
    "profile": ("/me/", ["name", "headline", "sector", "bio"], {}),
    "invitation": ("/invitations/", ["email", "vouch_note"], {}),
    "takeaway": ("/meetings/{past}/takeaways", ["body"], {}),
    "settings": ("/admin/settings", ["group_name", "charter", "timezone", "mail_sender_name"], {
        "sponsor_min_attendance": "2", "sponsor_max_pending": "2", "invitation_ttl_days": "14", "member_cap": "150",
        "rsvp_cutoff_days_before": "1", "rsvp_cutoff_time": "20:00", "mail_sender_email": ""}),
    "suspend": ("/admin/members/{other}/suspend", ["reason"], {}),
    "series": ("/admin/series", ["timezone", "venue_name", "venue_address"], {
        "weekday": "2", "start_time": "06:30", "duration_minutes": "60", "seat_limit": ""}),
    "sign_in": ("/login", ["email", "password"], {}),
    "forgot": ("/password/forgot", ["email"], {}),
    "join": ("/join/{join_token}", ["name", "headline", "sector", "password"], {}),
    "topic_edit": ("/topics/{topic}/edit", ["title", "details"], {}),
    "password": ("/me/password", ["current_password", "password", "confirm"], {}),
    "leave": ("/me/leave", ["reason"], {}),
    "delete": ("/me/delete", ["password"], {}),
    "one_off": ("/admin/meetings", ["venue_name", "venue_address", "day", "start_time"], {"duration_minutes": "60"}),
    "move": ("/admin/meetings/{ahead}", ["venue_name", "venue_address"], {
        "day": "2031-01-01", "start_time": "06:30", "duration_minutes": "60", "seat_limit": ""}),
    "cancel": ("/admin/meetings/{ahead}/cancel", ["reason"], {}),
}
SIGNED_OUT_FORMS = {"sign_in", "forgot", "join"}
NEVER_ECHOED = {"password", "current_password", "confirm"}


@pytest.fixture
def stage(app, client, login, organizer, make_member, make_meeting):
    from thinknet.invitations.services import issue_invitation
    from thinknet.models import Attendance

    other = make_member(name="Otto Other")
    # A second organizer, so that leaving or deleting is refused for its own reasons, not as the last one.
    make_member.organizer(name="Oona Second")
    past = make_meeting(days_from_now=-1, attendance_recorded_at=utcnow())
    ahead = make_meeting(days_from_now=30)
    with app.app_context(), app.test_request_context():
        db.session.add(Attendance(meeting_id=past, member_id=organizer.id))
        topic = Topic(title="Mine", author_id=organizer.id)
        db.session.add(topic)
        issued = issue_invitation(db.session.get(Member, organizer.id), "nia@example.org", "Known for years, kind.")
        db.session.commit()
        ids = {"other": other.id, "past": past, "ahead": ahead, "topic": topic.id, "join_token": issued.token}
    login(organizer)
    return ids


# Chosen from a list, not typed: a hostile value is refused next to the list, which cannot show it.
PICKED = {"timezone", "sector"}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_generated_text_never_breaks_a_form_and_refusals_keep_it(app, client, stage, form):
    path, fields, extra = FORMS[form]
    path = path.format(**stage)
    token_page = path if form in SIGNED_OUT_FORMS else "/"

    # Signing in, asking for a reset link and joining are for people who are signed out.
    poster = app.test_client() if form in SIGNED_OUT_FORMS else client

    @FUZZ
    @given(st.fixed_dictionaries({field: text for field in fields}))
    def post(values):
        response = poster.post(path, data={**extra, **values, "csrf_token": csrf_token(poster, token_page)})
        assert response.status_code < 500, response.status_code
        if response.status_code in (422, 429):
            page = response.get_data(as_text=True)
            assert 'class="error"' in page
            for field, value in values.items():
                if field in NEVER_ECHOED or field in PICKED:
                    continue  # passwords are never sent back; a choice from a list is not typed
                # Text fields drop control characters; date and time fields hand back exactly what came.
                # A single-line field also turns line breaks into a space.
                kept = {str(escape(without_control_characters(value))), str(escape(value)),
                        str(escape(on_one_line(value)))}
                assert any(k in page for k in kept), (field, value[:40])

    post()


def test_valid_text_is_stored_exactly(app, client, login, member):
    login(member)
    # Valid: text that shows something (a title of only zero-width or combining characters is refused).
    clean = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=150).map(
        str.strip).filter(shows_something)

    @FUZZ
    @given(title=clean, details=clean)
    def post(title, details):
        response = client.post("/topics/new", data={"title": title, "details": details, "when": "backlog",
                                                    "csrf_token": csrf_token(client, "/")})
        assert response.status_code == 303
        with app.app_context():
            stored = db.session.scalar(select(Topic).order_by(Topic.id.desc()).limit(1))
            assert (stored.title, stored.details) == (title, details)

    post()


MACHINES = itertools.count(1)


class Waitlist(RuleBasedStateMachine):
    """Random answers, changes of mind and seat changes on one session, checked after every step."""

    def __init__(self, app):
        super().__init__()
        self.app = app
        # A number no other machine in this run has had (object ids are reused once an object is freed).
        run = next(MACHINES)
        self.context = app.app_context()
        self.context.push()
        try:
            start = utcnow() + timedelta(days=5)
            self.meeting = Meeting(starts_at=start, ends_at=start + timedelta(hours=1), venue_name="Café",
                                   seat_limit=3)
            organizer = Member(email=f"org-{run}@example.org", name="Org", password_hash="x", role="organizer")
            self.members = [Member(email=f"m{n}-{run}@example.org", name=f"M{n}", password_hash="x")
                            for n in range(8)]
            db.session.add_all([self.meeting, organizer, *self.members])
            db.session.commit()
        except Exception:
            db.session.remove()
            self.context.pop()
            raise
        self.organizer = organizer

    @rule(who=st.integers(0, 7), answer=st.sampled_from(list(RsvpAnswer)))
    def answer(self, who, answer):
        rsvps.set_rsvp(self.members[who], self.meeting.id, answer)
        db.session.commit()

    @rule(seats=st.one_of(st.none(), st.integers(1, 6)))
    def change_seats(self, seats):
        local = self.meeting.starts_at
        values = schedule.MeetingValues(day=local.date(), start_time=time(local.hour, local.minute),
                                        duration_minutes=60, venue_name="Café", venue_address="", seat_limit=seats)
        try:
            schedule.update_meeting(self.meeting, self.organizer, values)
            db.session.commit()
        except schedule.MeetingChangeRefused:
            db.session.rollback()

    @invariant()
    def seats_are_never_oversold_and_the_line_is_first_come_first_served(self):
        db.session.expire_all()
        seats = db.session.get(Meeting, self.meeting.id).seat_limit
        rows = db.session.scalars(select(Rsvp).where(Rsvp.meeting_id == self.meeting.id)).all()
        assert len({r.member_id for r in rows}) == len(rows)  # nobody twice
        confirmed = [r for r in rows if r.answer == RsvpAnswer.YES and not r.waitlisted]
        waiting = [r for r in rows if r.answer == RsvpAnswer.YES and r.waitlisted]
        assert all(r.answer == RsvpAnswer.YES for r in rows if r.waitlisted)
        if seats is None:
            assert not waiting
        else:
            assert len(confirmed) <= seats
            if waiting:
                assert len(confirmed) == seats  # no free seat while someone waits
        # First come, first served: every seat is held by an answer older than every answer still waiting.
        if waiting and confirmed:
            assert max((r.answered_at, r.id) for r in confirmed) < min((r.answered_at, r.id) for r in waiting)

    def teardown(self):
        db.session.remove()
        self.context.pop()


def test_the_waitlist_keeps_its_invariants_through_any_sequence(app):
    run_state_machine_as_test(lambda: Waitlist(app), settings=settings(max_examples=15, stateful_step_count=25,
                                                                        deadline=None))
