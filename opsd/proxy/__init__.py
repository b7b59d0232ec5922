"""`opsd proxy`: the integration's Notion traffic through one request budget, recorded.

The integration points its SDK at the proxy (`base_url` in notion-client, `baseUrl` in
@notionhq/client); the proxy forwards each request unchanged to `[proxy] upstream`
(`notion.base_url` by default) over one pooled HTTP client and streams the answer back
unchanged. On the way it

- meters every token against `[proxy] rate_limit` with the limiter opsd's checks use, in the
  same shared state (`notion_limiter`), queueing up to `[proxy] max_queue_wait`, then
  answering Notion's own 429 (`budget`); a 429 or 529 from Notion pauses everyone behind it;
- records each request in `notion_requests` with `source = 'integration'`, written in batches
  off the request path (`recorder`): endpoint template, method, status, Notion's error code,
  latency, Retry-After, sizes, the retry tax and Notion's request limits (`limits`, `repeats`)
  — counts and flags only, never a body or a token.

Modules: `server` (HTTP/1.1 on asyncio streams, the forwarding), `budget`, `recorder`,
`limits`, `repeats`, `wire` (the HTTP message parts), `metrics`, `run` (the process).
"""
