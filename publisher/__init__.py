"""publisher: publish scheduled Markdown posts from a git repository to Mastodon and X."""

__version__ = "0.1.0"
