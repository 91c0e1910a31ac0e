"""berth-runc: the OCI runtime (namespaces, mounts, pivot_root, cgroups v1 and v2,
capabilities, seccomp, rlimits, users, exec), with runc's command line.

Public interface for other packages (the shim calls the CLI, like it calls runc):
`berth.runtime.container`: `create(root, id, bundle, pid_file=None,
console_socket=None)`, `start(root, id)`, `kill(root, id, signum, all_processes=False)`,
`delete(root, id, force=False)`, `pause`, `resume`, `processes(root, id)`,
`Container.load(root, id).status()`; `berth.runtime.runner.run(...)`;
`berth.runtime.execute.execute(root, id, process, console_socket, pid_file, detach)`.
Design: create.py (the create protocol), lifecycle.py (the status state
machine), cgroups/__init__.py (the cgroup manager interface).
"""
