"""The `bridge` driver: a Linux bridge per network, a veth pair per endpoint.

The host side lives in `host_netns` (None: the real host). NAT and filter
rules for the network go into berth's own chains when `iptables` is given.
"""

from __future__ import annotations

import logging

from berth.network import nat, netlink
from berth.network.driver import Endpoint, NetworkRecord
from berth.network.plan import plan_bridge, plan_veth

log = logging.getLogger(__name__)


class BridgeDriver:
    name = "bridge"

    def __init__(
        self,
        *,
        host_netns: str | None = None,
        iptables: nat.Iptables | None = None,
        chains: nat.Chains | None = None,
        userland_proxy: bool = True,
    ) -> None:
        self.host_netns = host_netns
        self.iptables = iptables
        self.chains = chains or nat.Chains()
        self._ready: set[str] = set()  # networks built by this process: join skips the checks
        self._chains_ready = False
        # False: loopback connections to published ports are DNATed by the kernel
        # (route_localnet on berth's bridges), the proxy only holds the ports
        self.userland_proxy = userland_proxy

    def _rules(self, net: NetworkRecord) -> list[nat.Rule]:
        assert net.bridge and net.subnet
        return nat.network_rules(
            self.chains,
            net.bridge,
            net.subnet,
            internal=net.internal,
            masquerade=net.masquerade,
            loopback_nat=not self.userland_proxy,
        )

    def create_network(self, net: NetworkRecord) -> None:
        netlink.ensure_bridge(plan_bridge(net), self.host_netns)
        if self.iptables is not None:
            if not self._chains_ready:  # berth's chains appear with its first bridge
                self.iptables.setup(self.chains)
                if not self.userland_proxy:
                    self.iptables.add([self.chains.loopback_jump()], first=True)
                self._chains_ready = True
            self.iptables.add(self._rules(net))
            if not self.userland_proxy and not net.internal:
                netlink.set_route_localnet(plan_bridge(net).name, self.host_netns)
            if not net.internal:
                netlink.enable_forwarding(self.host_netns)
        self._ready.add(net.id)
        log.info("network %s: bridge %s up on %s", net.name, net.bridge, net.subnet)

    def is_ready(self, net_id: str) -> bool:
        """True when this process built the network's bridge (so it exists)."""
        return net_id in self._ready

    def delete_network(self, net: NetworkRecord) -> None:
        self._ready.discard(net.id)
        if self.iptables is not None:
            self.iptables.delete(self._rules(net))
        if net.bridge:
            netlink.delete_link(net.bridge, self.host_netns)

    def join(
        self, net: NetworkRecord, ep: Endpoint, netns_path: str, *, default_route: bool = True
    ) -> None:
        if net.id not in self._ready:
            self.create_network(net)  # a restart, or the default bridge built lazily
        netlink.add_veth(
            plan_veth(net, ep, default_route=default_route), netns_path, self.host_netns
        )

    def leave(self, net: NetworkRecord, ep: Endpoint, netns_path: str | None) -> None:
        if ep.host_ifname:
            netlink.delete_link(ep.host_ifname, self.host_netns)

    def publish(self, net: NetworkRecord, mappings: list[nat.PortMapping]) -> None:
        """The ports' rules, all with one iptables-restore (an exec costs milliseconds)."""
        if self.iptables is None or not net.bridge:
            return
        rules = [r for m in mappings for r in nat.port_rules(self.chains, net.bridge, m)]
        self.iptables.append_new(rules)

    def unpublish(self, net: NetworkRecord, mappings: list[nat.PortMapping]) -> None:
        if self.iptables is None or not net.bridge:
            return
        rules = [r for m in mappings for r in nat.port_rules(self.chains, net.bridge, m)]
        self.iptables.remove(rules)


class NullDriver:
    """`host` and `null`: networks with nothing to build (the mode decides the sandbox)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def create_network(self, net: NetworkRecord) -> None:
        return None

    def delete_network(self, net: NetworkRecord) -> None:
        return None

    def join(
        self, net: NetworkRecord, ep: Endpoint, netns_path: str, *, default_route: bool = True
    ) -> None:
        return None

    def leave(self, net: NetworkRecord, ep: Endpoint, netns_path: str | None) -> None:
        return None
