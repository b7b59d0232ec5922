"""The Notion API client: errors in plain words, the shared rate limiter, the request log and
the service the checks call (notion-client's AsyncClient over one instrumented httpx client).

Import the submodules: this package itself stays light, so that importing `opsd.notion.errors`
does not load httpx and notion-client.
"""
