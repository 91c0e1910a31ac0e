"""The cgroup manager: one container's control group, whatever the host mounts.

Vocabulary. A *hierarchy* is one mounted cgroup tree: cgroup v1 mounts one per
controller (memory, cpu, pids, ...), cgroup v2 mounts a single unified tree.
The container's *cgroup* is one directory per hierarchy, named by the spec's
`cgroupsPath`: absolute paths are taken from the hierarchy's root, relative
ones (and the default, the container id) from the cgroup berth-runc itself is in.

Life of a cgroup, as the runtime drives it:

1. `create(resources)`: make the directories (remembering which ones it made)
   and write the limits. Nothing is in it yet.
2. `add(pid)`: move a process in; its children are born in it. The runtime's
   intermediate process adds itself before it unshares the cgroup namespace, so
   the container's init sees its cgroup as "/".
3. `update(resources)`: new limits for a running container (`berth-runc update`).
4. `freeze()` / `thaw()`: pause and resume every process, for `pause`/`resume`.
5. `pids()`: the processes in it, for `ps`, `kill --all` and `delete --force`.
6. `destroy()`: remove the directories it made; the caller kills the
   processes first.

A manager is rebuilt from its `paths()` (saved in the container's state) by
`v1.Manager.from_paths` / `v2.Manager.from_paths`; `host.open_manager` picks
the version once, from what the host mounts: v1 when any v1 controller is
mounted (hybrid hosts included), otherwise v2. Writing limits is planned as
data first (`plan(resources)` -> list of `Write`), so unit tests can check the
plan, and applied file by file: a cgroupfs is just files.

The interface itself, `Manager`, is in interface.py (kept out of this package
file so that importing an implementation does not import `typing`).
"""
