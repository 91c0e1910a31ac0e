"""berth.storage: snapshotters (overlay, vfs) and layer tars in and out.

- `snapshotter`: the Snapshotter protocol, Mount/Info/Usage data, `get_snapshotter(name, root)`.
- `overlay`, `vfs`: the two implementations.
- `layers`: `apply_layer(stream, target, expected_diff_id=...)` (safe extraction, whiteouts).
- `diff`: `changes(...)` for `docker diff`, `write_diff(...)` for commit/build.
- `mounting`: make and undo the mounts a snapshotter returns.
"""
