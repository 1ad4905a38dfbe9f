"""Members: the directory, profiles and the sponsor tree."""
