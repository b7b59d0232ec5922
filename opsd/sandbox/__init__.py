"""A local Notion API for demos and tests: `Sandbox(port=0).start()`, `SANDBOX_TOKEN`, `DATABASES`.

Behaves like api.notion.com for the endpoints opsd uses (users/me, databases, data sources,
their queries, search, and the page and block writes of reports) under Notion-Version
2022-06-28 and 2025-09-03, with Notion's error objects, a per-token rate limit and fault
injection (see `server.Sandbox`).
"""

from opsd.sandbox.api import SANDBOX_TOKEN, SandboxError
from opsd.sandbox.render import VERSIONS
from opsd.sandbox.server import Sandbox
from opsd.sandbox.workspace import DATA_SOURCES, DATABASES

__all__ = ["DATABASES", "DATA_SOURCES", "SANDBOX_TOKEN", "VERSIONS", "Sandbox", "SandboxError"]
