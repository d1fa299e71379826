"""functions commands."""
