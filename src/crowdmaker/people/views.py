"""Pages of people (being written)."""
