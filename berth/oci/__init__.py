"""The OCI runtime-spec config model (`berth.oci.spec`) and, on top of it, the
builder that turns a container's settings into config.json (`berth.oci.builder`).

Public interface of `berth.oci.spec`: the model classes (dataclass-like, slotted,
mutable; copy with `replace(value, **changes)`) `Spec`, `Process`,
`User`, `Capabilities`, `Rlimit`, `Root`, `Mount`, `Hooks`, `Hook`, `Linux`,
`Namespace`, `IDMapping`, `Device`, `Resources` (`Memory`, `CPU`, `Pids`,
`BlockIO`, `DeviceRule`, ...), `Seccomp`, `Syscall`, `SeccompArg`; and
`parse_spec(text)`, `load_spec(path)`, `load_process(path)`, `load_resources(data)`,
`dump_spec(spec)`,
`Spec.to_dict()`, `X.from_dict(data, source)` for any model class X. Loading
raises `InvalidArgument`
naming the JSON path of the first bad value.
"""
