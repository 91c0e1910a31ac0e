"""berth.daemon: berthd's services (containers, execs, images, events, system)
and its entry point (`berth.daemon.main:main`, the only reader of flags and
daemon.json).

Public interface: `berth.daemon.daemon.Daemon(DaemonOptions)` with
`.containers`, `.execs`, `.images`, `.events`, `.system`, `.service(name)`;
`berth.daemon.registry.SERVICES` / `ServiceContext`; `berth.daemon.hooks`
(`ContainerHook`, `ContainerInfo`, `StartContext`); `berth.daemon.events.EventBus`.
See docs/daemon.md.
"""
