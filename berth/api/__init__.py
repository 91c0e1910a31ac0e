"""berth.api: the daemon's HTTP routes (Docker Engine API v1.43 shapes).

Public interface: `berth.api.app.App(daemon)` (dispatch), `ROUTE_MODULES`
(the registry other areas add a line to), `berth.api.router.Router`,
`berth.api.http` (Request, Response, StreamResponse, HijackResponse,
json_response, no_content, iter_json_lines), `berth.api.errors.status_of`.
See docs/daemon.md.
"""
