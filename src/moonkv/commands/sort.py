"""sort commands."""
