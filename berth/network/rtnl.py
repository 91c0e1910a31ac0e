"""Synchronous rtnetlink requests for a container's start: pyroute2's messages, one socket.

pyroute2's IPRoute (0.9) runs every request through an asyncio event loop:
several loop turns, each a point where a busy multi-threaded daemon may wait
for the GIL. The kernel answers an rtnetlink request within the send, so a
request here is one send and one receive on a plain netlink socket; the
messages are still built by pyroute2's classes (ifinfmsg, ifaddrmsg, rtmsg).
Only what a container start needs is here; everything else uses IPRoute
(berth/network/netlink.py).
"""

from __future__ import annotations

import errno
import socket
import struct

from pyroute2 import NetlinkError
from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NLMSG_ERROR
from pyroute2.netlink.rtnl import RTM_GETLINK, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

IFF_UP = 0x1
_HDR = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL


def socket_here() -> socket.socket:
    """A NETLINK_ROUTE socket in the calling thread's network namespace."""
    return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)


class Rtnl:
    """Requests on one NETLINK_ROUTE socket (which stays in the namespace it was made in)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def _request(self, msg, kind: int, flags: int) -> bytes:
        """Send `msg`, return the first answer that is not an ACK (b"" for a bare ACK);
        a kernel error is raised as pyroute2's NetlinkError, as IPRoute raises it."""
        self.seq += 1
        msg["header"]["type"] = kind
        msg["header"]["flags"] = flags
        msg["header"]["sequence_number"] = self.seq
        msg.encode()
        self.sock.send(msg.data)
        answer = b""
        while True:
            data = self.sock.recv(65536)
            offset = 0
            while offset + _HDR.size <= len(data):
                length, mtype, _, seq, _ = _HDR.unpack_from(data, offset)
                if length < _HDR.size:
                    raise NetlinkError(0, "malformed netlink answer")
                if seq == self.seq:
                    if mtype == NLMSG_ERROR:
                        (code,) = struct.unpack_from("=i", data, offset + _HDR.size)
                        if code:
                            raise NetlinkError(-code)
                        return answer
                    answer = answer or data[offset : offset + length]
                    if not flags & NLM_F_ACK:
                        return answer
                offset += (length + 3) & ~3

    def link_index(self, name: str) -> int | None:
        """The index of interface `name`, None if there is none."""
        msg = ifinfmsg()
        msg["attrs"] = [("IFLA_IFNAME", name)]
        try:
            answer = self._request(msg, RTM_GETLINK, NLM_F_REQUEST)
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return None
            raise
        # ifinfomsg after the header: family, pad, type, index
        return struct.unpack_from("=BxHi", answer, _HDR.size)[2]

    def set_up(self, index: int) -> None:
        msg = ifinfmsg()
        msg["index"] = index
        msg["flags"] = IFF_UP
        msg["change"] = IFF_UP
        self._request(msg, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK)

    def add_veth(
        self, name: str, *, master: int, mtu: int, peer: str, peer_ns_fd: int, peer_mac: str
    ) -> None:
        """A veth pair: `name` here, enslaved to `master` and up; `peer` in the
        namespace `peer_ns_fd` with `peer_mac` (down, its namespace brings it up)."""
        msg = ifinfmsg()
        msg["flags"] = IFF_UP
        msg["change"] = IFF_UP
        peer_attrs = [
            ("IFLA_IFNAME", peer),
            ("IFLA_NET_NS_FD", peer_ns_fd),
            ("IFLA_ADDRESS", peer_mac),
            ("IFLA_MTU", mtu),
        ]
        msg["attrs"] = [
            ("IFLA_IFNAME", name),
            ("IFLA_MTU", mtu),
            ("IFLA_MASTER", master),
            (
                "IFLA_LINKINFO",
                {
                    "attrs": [
                        ("IFLA_INFO_KIND", "veth"),
                        ("IFLA_INFO_DATA", {"attrs": [("VETH_INFO_PEER", {"attrs": peer_attrs})]}),
                    ]
                },
            ),
        ]
        self._request(msg, RTM_NEWLINK, _CREATE)

    def add_address(self, index: int, address: str, prefixlen: int) -> None:
        msg = ifaddrmsg()
        msg["family"] = socket.AF_INET
        msg["prefixlen"] = prefixlen
        msg["index"] = index
        msg["attrs"] = [("IFA_LOCAL", address), ("IFA_ADDRESS", address)]
        self._request(msg, RTM_NEWADDR, _CREATE)

    def add_default_route(self, gateway: str, oif: int) -> None:
        msg = rtmsg()
        msg["family"] = socket.AF_INET
        msg["table"] = 254  # main
        msg["proto"] = 4  # static, as `ip route add` and IPRoute mark it
        msg["scope"] = 0  # universe
        msg["type"] = 1  # unicast
        msg["attrs"] = [("RTA_GATEWAY", gateway), ("RTA_OIF", oif)]
        self._request(msg, RTM_NEWROUTE, _CREATE)
