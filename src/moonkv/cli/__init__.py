"""Command-line entry points: ``moonkv server``, the client and data-directory tools."""
