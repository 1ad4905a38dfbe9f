"""/me: your own profile, password, and leaving the group."""
