"""Networks, endpoints, address cursors and sandboxes in berth's SQLite file.

The schema is MIGRATIONS 300-399 in berth/db.py (tables networks,
network_endpoints, network_ipam, network_sandboxes). An address is unique per
network by index, so two threads can never record the same one; allocation
happens inside one IMMEDIATE transaction (see `NetworkStore.transaction`).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from berth.errors import Conflict, Forbidden, InvalidArgument, NotFound
from berth.network.driver import NetworkRecord


@dataclass(frozen=True, slots=True)
class EndpointRow:
    """An endpoint as stored: its settings, and its address while the container runs."""

    network_id: str
    container_id: str
    container_name: str
    aliases: tuple[str, ...] = ()
    requested_ip: str | None = None
    ip: str | None = None
    mac: str | None = None
    ifname: str = "eth0"
    host_ifname: str | None = None
    endpoint_id: str = ""


@dataclass(frozen=True, slots=True)
class SandboxRow:
    """A container's network namespace and what was set up for it."""

    container_id: str
    mode: str  # "netns", "host", "container"
    netns_path: str | None = None
    proxy_pid: int = 0
    ports: list[dict] = field(default_factory=list)  # applied PortMapping dicts
    dns: bool = False
    upstreams: list[list] = field(default_factory=list)


def _net_from_row(row: sqlite3.Row) -> NetworkRecord:
    cfg = json.loads(row["config"])
    return NetworkRecord(**cfg)


class NetworkStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    # networks
    def add_network(self, net: NetworkRecord) -> None:
        try:
            self.conn.execute(
                "INSERT INTO networks (id, name, driver, created, config) VALUES (?,?,?,?,?)",
                (net.id, net.name, net.driver, net.created, json.dumps(asdict(net))),
            )
        except sqlite3.IntegrityError:
            raise Conflict(f"network with name {net.name} already exists") from None

    def replace_network(self, net: NetworkRecord) -> None:
        self.conn.execute(
            "UPDATE networks SET config=? WHERE id=?", (json.dumps(asdict(net)), net.id)
        )

    def delete_network(self, net_id: str) -> None:
        self.conn.execute("DELETE FROM network_ipam WHERE network_id=?", (net_id,))
        self.conn.execute("DELETE FROM networks WHERE id=?", (net_id,))

    def networks(self) -> list[NetworkRecord]:
        rows = self.conn.execute("SELECT config FROM networks ORDER BY created, name").fetchall()
        return [_net_from_row(r) for r in rows]

    def find(self, ref: str) -> NetworkRecord:
        """By exact id, exact name, then unique id prefix, as Docker resolves."""
        if not ref:
            raise InvalidArgument("network name or id is empty")
        for sql in (
            "SELECT config FROM networks WHERE id=?",
            "SELECT config FROM networks WHERE name=?",
        ):
            row = self.conn.execute(sql, (ref,)).fetchone()
            if row:
                return _net_from_row(row)
        rows = self.conn.execute(
            "SELECT config FROM networks WHERE id LIKE ? ESCAPE '\\'",
            (ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
        ).fetchall()
        if len(rows) == 1:
            return _net_from_row(rows[0])
        if len(rows) > 1:
            raise NotFound(
                f"network {ref} is ambiguous ({len(rows)} matches found based on ID prefix)"
            )
        raise NotFound(f"network {ref} not found")

    # endpoints
    def put_endpoint(self, ep: EndpointRow) -> None:
        cfg = asdict(ep)
        try:
            self.conn.execute(
                "INSERT OR REPLACE INTO network_endpoints (network_id, container_id, config, ip) VALUES (?,?,?,?)",
                (ep.network_id, ep.container_id, json.dumps(cfg), ep.ip),
            )
        except sqlite3.IntegrityError:
            raise Forbidden(f"Address already in use: {ep.ip}") from None

    def delete_endpoint(self, network_id: str, container_id: str) -> None:
        self.conn.execute(
            "DELETE FROM network_endpoints WHERE network_id=? AND container_id=?",
            (network_id, container_id),
        )

    def endpoints(
        self, *, network_id: str | None = None, container_id: str | None = None
    ) -> list[EndpointRow]:
        sql, args = "SELECT config FROM network_endpoints WHERE 1=1", []
        if network_id is not None:
            sql += " AND network_id=?"
            args.append(network_id)
        if container_id is not None:
            sql += " AND container_id=?"
            args.append(container_id)
        rows = self.conn.execute(sql + " ORDER BY rowid", args).fetchall()
        out = []
        for r in rows:
            cfg = json.loads(r["config"])
            cfg["aliases"] = tuple(cfg.get("aliases") or ())
            out.append(EndpointRow(**cfg))
        return out

    def used_ips(self, network_id: str) -> set[str]:
        rows = self.conn.execute(
            "SELECT ip FROM network_endpoints WHERE network_id=? AND ip IS NOT NULL", (network_id,)
        )
        return {r[0] for r in rows}

    def last_ip(self, network_id: str) -> str | None:
        row = self.conn.execute(
            "SELECT last_ip FROM network_ipam WHERE network_id=?", (network_id,)
        ).fetchone()
        return row[0] if row else None

    def set_last_ip(self, network_id: str, ip: str) -> None:
        self.conn.execute(
            "INSERT INTO network_ipam (network_id, last_ip) VALUES (?,?) "
            "ON CONFLICT(network_id) DO UPDATE SET last_ip=excluded.last_ip",
            (network_id, ip),
        )

    # sandboxes
    def put_sandbox(self, sb: SandboxRow) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO network_sandboxes (container_id, config) VALUES (?,?)",
            (sb.container_id, json.dumps(asdict(sb))),
        )

    def sandbox(self, container_id: str) -> SandboxRow | None:
        row = self.conn.execute(
            "SELECT config FROM network_sandboxes WHERE container_id=?", (container_id,)
        ).fetchone()
        return SandboxRow(**json.loads(row[0])) if row else None

    def sandboxes(self) -> list[SandboxRow]:
        return [
            SandboxRow(**json.loads(r[0]))
            for r in self.conn.execute("SELECT config FROM network_sandboxes")
        ]

    def delete_sandbox(self, container_id: str) -> None:
        self.conn.execute("DELETE FROM network_sandboxes WHERE container_id=?", (container_id,))
