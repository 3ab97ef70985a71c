"""clientops: project-based customer management and customer operations."""

__version__ = "0.1.0"
