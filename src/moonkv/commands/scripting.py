"""scripting commands."""
