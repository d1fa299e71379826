"""persistence commands."""
