"""The network driver interface: the design of berth's networking in one page.

Vocabulary (Docker's, so that `network inspect` reads the same):

- A **network** is a named, persisted record (`NetworkRecord`): a driver, an IPAM
  configuration (subnet, gateway, optional ip-range), options and labels. Creating
  one records it and asks its driver to build what it needs on the host (a Linux
  bridge for `bridge`); removing one tears that down.
- A **sandbox** is a container's network namespace, a file bind-mounted under
  `<exec-root>/netns/<container-id>`, created before the container starts and
  handed to the OCI runtime as the path of its `network` namespace. `host` mode
  has no sandbox (the container shares the host's), `none` has a sandbox with
  only `lo`, `container:<id>` reuses another container's sandbox.
- An **endpoint** joins one sandbox to one network: an address taken from the
  network's IPAM, a MAC derived from it, aliases for the embedded DNS, and for
  `bridge` a veth pair whose inner end becomes `eth0` (`eth1`, ...) in the sandbox.

A driver is told what to do through plain records and returns nothing but raises
berth.errors kinds; the decisions (which address, which interface names, which
NAT rules) are computed beforehand as data by `ipam`, `plan` and `nat`, so unit
tests read them without root. Drivers act through netlink (pyroute2) on a
*host namespace* that is the real host for berthd and a throwaway namespace in
tests, so that tests never touch the machine's own interfaces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class NetworkRecord:
    """One network as persisted and as shown by `network inspect`."""

    id: str
    name: str
    driver: str
    subnet: str | None = None
    gateway: str | None = None
    ip_range: str | None = None
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    bridge: str | None = None
    created: str = ""
    predefined: bool = False
    enable_icc: bool = True
    masquerade: bool = True


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One container's attachment to one network."""

    network_id: str
    container_id: str
    container_name: str
    ip: str | None
    prefixlen: int | None
    gateway: str | None
    mac: str | None
    ifname: str
    host_ifname: str | None
    aliases: tuple[str, ...] = ()
    id: str = ""


class NetworkDriver(Protocol):
    """What the network service asks of a driver. All methods are idempotent."""

    name: str

    def create_network(self, net: NetworkRecord) -> None:
        """Build the host side of `net` (nothing for null drivers)."""

    def delete_network(self, net: NetworkRecord) -> None:
        """Undo create_network; absent pieces are not an error."""

    def join(self, net: NetworkRecord, ep: Endpoint, netns_path: str) -> None:
        """Connect the sandbox at `netns_path` to `net` as described by `ep`."""

    def leave(self, net: NetworkRecord, ep: Endpoint, netns_path: str | None) -> None:
        """Disconnect the endpoint; the sandbox may already be gone."""
