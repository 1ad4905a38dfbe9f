"""Topics: the open agenda members build with what they want to discuss."""
