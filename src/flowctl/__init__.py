"""flowctl: versioned decision flows in a file-backed, git-friendly store."""

__version__ = "0.1.0"
