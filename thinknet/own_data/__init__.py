"""A departed or suspended member's own data, reached through a single-use emailed link."""
