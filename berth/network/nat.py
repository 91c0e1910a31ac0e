"""Kernel NAT and filter rules for bridge networks and published ports.

berth owns its chains and only its chains: `<P>` (nat, DNAT for published
ports), `<P>-POSTROUTING` (nat, masquerade) and `<P>-FORWARD` (filter), where
`<P>` is the chain prefix ("BERTH" for berthd; tests use their own inside their
own namespaces). The built-in chains get one jump rule each, added once and
removed by `teardown`; existing chains are never flushed or rewritten.

Rules are computed as data (`Rule`) by the `*_rules` functions and applied by
`Iptables`, which runs the iptables binary Debian ships (iptables-nft), inside
a given network namespace through nsenter when one is named.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass

from berth.errors import InternalError, Unavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rule:
    table: str
    chain: str
    spec: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Chains:
    prefix: str = "BERTH"

    @property
    def dnat(self) -> str:
        return self.prefix

    @property
    def postrouting(self) -> str:
        return f"{self.prefix}-POSTROUTING"

    @property
    def forward(self) -> str:
        return f"{self.prefix}-FORWARD"

    @property
    def input(self) -> str:
        return f"{self.prefix}-INPUT"

    def own(self) -> list[tuple[str, str]]:
        return [
            ("nat", self.dnat),
            ("nat", self.postrouting),
            ("filter", self.forward),
            ("filter", self.input),
        ]

    def loopback_jump(self) -> Rule:
        """Without the userland proxy, loopback connections take the DNAT chain too."""
        return Rule("nat", "OUTPUT", ("-d", "127.0.0.0/8", "-j", self.dnat))

    def jumps(self) -> list[Rule]:
        """The jump rules from built-in chains into berth's chains."""
        return [
            Rule("nat", "PREROUTING", ("-m", "addrtype", "--dst-type", "LOCAL", "-j", self.dnat)),
            Rule(
                "nat",
                "OUTPUT",
                (
                    "!",
                    "-d",
                    "127.0.0.0/8",
                    "-m",
                    "addrtype",
                    "--dst-type",
                    "LOCAL",
                    "-j",
                    self.dnat,
                ),
            ),
            Rule("nat", "POSTROUTING", ("-j", self.postrouting)),
            Rule("filter", "FORWARD", ("-j", self.forward)),
            Rule("filter", "INPUT", ("-j", self.input)),
        ]


@dataclass(frozen=True, slots=True)
class PortMapping:
    """One published port: host side (ip may be '' for all) to container side."""

    proto: str
    host_ip: str
    host_port: int
    container_ip: str
    container_port: int


def network_rules(
    chains: Chains,
    bridge: str,
    subnet: str,
    *,
    internal: bool,
    masquerade: bool = True,
    loopback_nat: bool = False,
) -> list[Rule]:
    """Rules of one bridge network. `loopback_nat` (no userland proxy): connections
    from the host's 127.0.0.1 that were DNATed to a container leave through the
    bridge with the gateway's address instead (the kernel would drop them as
    martians otherwise; route_localnet is set on this bridge only). Since
    route_localnet would also deliver packets a container sends to 127.0.0.0/8
    to the host's loopback services (the CVE-2020-8558 class), those are dropped
    unless they belong to a connection the host opened (replies, DNAT)."""
    if internal:
        return [
            Rule("filter", chains.forward, ("-i", bridge, "!", "-o", bridge, "-j", "DROP")),
            Rule("filter", chains.forward, ("!", "-i", bridge, "-o", bridge, "-j", "DROP")),
        ]
    rules = [
        Rule("nat", chains.dnat, ("-i", bridge, "-j", "RETURN")),
        Rule(
            "filter",
            chains.forward,
            ("-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
        ),
        Rule("filter", chains.forward, ("-i", bridge, "-j", "ACCEPT")),
    ]
    if masquerade:
        rules.append(
            Rule("nat", chains.postrouting, ("-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"))
        )
    if loopback_nat:
        rules.append(
            Rule(
                "nat",
                chains.postrouting,
                ("-o", bridge, "-m", "addrtype", "--src-type", "LOCAL", "-j", "MASQUERADE"),
            )
        )
        guard = ("-i", bridge, "-d", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate")
        rules.append(
            Rule("filter", chains.input, (*guard, "RELATED,ESTABLISHED,DNAT", "-j", "DROP"))
        )
    return rules


def port_rules(chains: Chains, bridge: str, m: PortMapping) -> list[Rule]:
    dst = ("-d", m.host_ip) if m.host_ip not in ("", "0.0.0.0") else ()
    cport = str(m.container_port)
    return [
        Rule(
            "nat",
            chains.dnat,
            (*dst, "!", "-i", bridge, "-p", m.proto, "-m", m.proto, "--dport", str(m.host_port),
             "-j", "DNAT", "--to-destination", f"{m.container_ip}:{cport}"),
        ),
        Rule(
            "filter",
            chains.forward,
            ("-d", f"{m.container_ip}/32", "!", "-i", bridge, "-o", bridge, "-p", m.proto,
             "-m", m.proto, "--dport", cport, "-j", "ACCEPT"),
        ),
        Rule(
            "nat",
            chains.postrouting,
            ("-s", f"{m.container_ip}/32", "-d", f"{m.container_ip}/32", "-p", m.proto,
             "-m", m.proto, "--dport", cport, "-j", "MASQUERADE"),
        ),
    ]  # fmt: skip


class Iptables:
    """Runs iptables on the host, or inside the namespace at `netns_path`."""

    def __init__(self, netns_path: str | None = None, binary: str = "iptables") -> None:
        exe = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin")
        if exe is None:
            raise Unavailable(f"{binary} is not installed")
        prefix = ["nsenter", f"--net={netns_path}"] if netns_path else []
        self._argv = [*prefix, exe, "-w"]
        restore = shutil.which(f"{binary}-restore", path=os.path.dirname(exe))
        self._restore_argv = [*prefix, restore, "-w", "--noflush"] if restore else None

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([*self._argv, *args], capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise InternalError(f"iptables {' '.join(args)}: {proc.stderr.strip()}")
        return proc

    def _batch(self, op: str, rules: list[Rule]) -> bool:
        """Apply `op` (-A or -D) to all `rules` with one iptables-restore (each table
        all or nothing); False if it failed or there is no iptables-restore."""
        if self._restore_argv is None:
            return False
        tables: dict[str, list[str]] = {}
        for rule in rules:
            tables.setdefault(rule.table, []).append(" ".join((op, rule.chain, *rule.spec)))
        text = "".join(
            f"*{table}\n" + "".join(f"{line}\n" for line in lines) + "COMMIT\n"
            for table, lines in tables.items()
        )
        proc = subprocess.run(self._restore_argv, input=text, capture_output=True, text=True)
        if proc.returncode != 0:
            log.debug("iptables-restore %s: %s", op, proc.stderr.strip())
        return proc.returncode == 0

    def append_new(self, rules: list[Rule]) -> None:
        """Append rules that cannot be there yet (a container's published ports) with
        one exec instead of a check and an append per rule."""
        if rules and not self._batch("-A", rules):
            self.add(rules)

    def remove(self, rules: list[Rule]) -> None:
        """Delete rules with one exec; rule by rule (every copy) if one was missing."""
        if rules and not self._batch("-D", rules):
            self.delete(rules)

    def has(self, rule: Rule) -> bool:
        return (
            self._run("-t", rule.table, "-C", rule.chain, *rule.spec, check=False).returncode == 0
        )

    def chain_exists(self, table: str, chain: str) -> bool:
        return self._run("-t", table, "-n", "-L", chain, check=False).returncode == 0

    def add(self, rules: list[Rule], *, first: bool = False) -> None:
        for rule in rules:
            if not self.has(rule):
                op = ("-I", rule.chain, "1") if first else ("-A", rule.chain)
                self._run("-t", rule.table, *op, *rule.spec)

    def delete(self, rules: list[Rule]) -> None:
        for rule in rules:
            while self.has(rule):
                self._run("-t", rule.table, "-D", rule.chain, *rule.spec)

    def setup(self, chains: Chains) -> None:
        """Create berth's chains and their jump rules (idempotent)."""
        for table, chain in chains.own():
            if not self.chain_exists(table, chain):
                self._run("-t", table, "-N", chain)
        self.add(chains.jumps(), first=True)

    def teardown(self, chains: Chains) -> None:
        """Remove the jump rules and berth's own chains with their rules."""
        self.delete([*chains.jumps(), chains.loopback_jump()])
        for table, chain in chains.own():
            if self.chain_exists(table, chain):
                self._run("-t", table, "-F", chain)
                self._run("-t", table, "-X", chain)

    def list_rules(self, table: str, chain: str) -> list[str]:
        proc = self._run("-t", table, "-S", chain, check=False)
        return proc.stdout.splitlines() if proc.returncode == 0 else []
