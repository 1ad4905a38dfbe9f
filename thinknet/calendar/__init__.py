"""Everything about calendars: building iCalendar (ics), invites and cancellations by email (itip), the
members' private feed (feed) and its address (views)."""
