"""berth-shim: the per-container supervisor (one small process per container).

The daemon starts a shim through `berth.shim.client.spawn`; the shim runs the
OCI runtime's `create` and `start`, owns the container's stdio (a pty with a
tty, pipes otherwise), writes the Docker json-file log, serves attach, exec,
resize, kill and wait over its unix socket, reaps the exit status and writes it
atomically to disk before telling anyone. It lives in its own session, so the
daemon can die and come back (`berth.shim.client.connect`).

Public interface for the daemon: `berth.shim.client` (`ShimSpec`, `spawn`,
`connect`, `Shim`, `AttachStream`, `probe`, `exit_record`, `state_dir`,
`remove_state`, `stop_zygote`). The wire protocol: `berth.shim.protocol`.
Design and memory figures: docs/shim.md.
"""
