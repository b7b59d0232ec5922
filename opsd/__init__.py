"""opsd: an operations-monitoring daemon for self-hosted Notion API integrations."""

__version__ = "0.1.0"
