"""Engine API client: what the CLI (and tests, and tools) use to talk to berthd.

Public interface:

- `berth.client.api.Client(host=None, version=None)`: one daemon connection
  target. `host` is `unix:///path`, `tcp://h:p` or `https://h:p` (TLS); default
  from `BERTH_HOST`, else `unix:///run/berth/berth.sock` (DOCKER_HOST is not read).
  Methods: `get/post/put/delete/head(path, params=, body=, headers=) -> Any`
  (decoded JSON or bytes), `request(...) -> Response` (streaming body),
  `stream_json(...) -> Iterator[dict]` (JSON-lines progress, events, stats),
  `hijack(...) -> Hijacked` (raw socket + early bytes, `close_write()` for
  stdin EOF), `begin(method, path, params) -> Pending` (send now;
  `Pending.wait_head()`, `Pending.result()` later: `wait` before `start`),
  `ping()`, `api_version()`. Version negotiation is optimistic: the newest
  version first, the daemon's maximum on a "too new" refusal.
- `berth.client.statuses.raise_for_status(status, body)`: maps an HTTP
  status back to a `berth.errors` kind (the one table, `KINDS`).
- `berth.client.frames`: the 8-byte multiplexed stream framing (`encode_frame`,
  `FrameReader`).

- `berth.jsoncodec`: `loads`, `dumps(indent=, separators=, ensure_ascii=)`,
  `raw_decode`: the stdlib json's output and input, through `_json` alone.

Stdlib-only and lazy: importing this package costs nothing; `api` imports only
the C modules `_socket` and `_json` (no `json` and so no `re`, no `os`, no
`http.client`, no `socket`, no `ssl` unless the host is TLS), because every CLI
start pays for it.
"""
