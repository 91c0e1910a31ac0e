"""DNS messages (RFC 1035): just enough to answer A and PTR queries ourselves.

The embedded server parses a query's header and first question, and either
builds an answer from the names it knows or forwards the query's bytes
unchanged to an upstream resolver. Pure functions, tested without sockets.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from berth.errors import InvalidArgument

TYPE_A = 1
TYPE_PTR = 12
TYPE_AAAA = 28
CLASS_IN = 1

RCODE_OK = 0
RCODE_FORMERR = 1
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3

FLAG_QR = 0x8000
FLAG_AA = 0x0400
FLAG_RD = 0x0100
FLAG_RA = 0x0080


@dataclass(frozen=True, slots=True)
class Question:
    name: str  # lower case, without the trailing dot
    qtype: int
    qclass: int


@dataclass(frozen=True, slots=True)
class Query:
    id: int
    flags: int
    question: Question
    question_bytes: bytes  # the question section as received, echoed in answers


def _read_name(data: bytes, pos: int) -> tuple[str, int]:
    labels: list[str] = []
    end = None
    jumps = 0
    while True:
        if pos >= len(data):
            raise InvalidArgument("DNS name runs past the message")
        n = data[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(data) or jumps > 16:
                raise InvalidArgument("bad DNS compression pointer")
            if end is None:
                end = pos + 2
            pos = ((n & 0x3F) << 8) | data[pos + 1]
            jumps += 1
            continue
        if n > 63:
            raise InvalidArgument("DNS label too long")
        labels.append(data[pos + 1 : pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    return ".".join(labels).lower(), (end if end is not None else pos)


def encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split("."):
        if not label:
            continue
        raw = label.encode("ascii")
        if len(raw) > 63:
            raise InvalidArgument(f"DNS label too long in {name}")
        out.append(len(raw))
        out += raw
    out.append(0)
    return bytes(out)


def parse_query(data: bytes) -> Query:
    if len(data) < 12:
        raise InvalidArgument("DNS message shorter than its header")
    qid, flags, qdcount = struct.unpack("!HHH", data[:6])
    if flags & FLAG_QR:
        raise InvalidArgument("DNS message is a response, not a query")
    if qdcount != 1:
        raise InvalidArgument(f"DNS query with {qdcount} questions")
    name, pos = _read_name(data, 12)
    if pos + 4 > len(data):
        raise InvalidArgument("DNS question truncated")
    qtype, qclass = struct.unpack("!HH", data[pos : pos + 4])
    return Query(qid, flags, Question(name, qtype, qclass), data[12 : pos + 4])


def build_query(qid: int, name: str, qtype: int = TYPE_A) -> bytes:
    """A standard recursive query (used by tests and by nothing in the server)."""
    return (
        struct.pack("!HHHHHH", qid, FLAG_RD, 1, 0, 0, 0)
        + encode_name(name)
        + struct.pack("!HH", qtype, CLASS_IN)
    )


def build_response(
    q: Query,
    *,
    addresses: list[str] = (),
    ptr: str | None = None,
    rcode: int = RCODE_OK,
    ttl: int = 600,
) -> bytes:
    """An answer to `q`: A records, one PTR record, or just an rcode."""
    answers = bytearray()
    count = 0
    for addr in addresses:
        answers += (
            b"\xc0\x0c"
            + struct.pack("!HHIH", TYPE_A, CLASS_IN, ttl, 4)
            + ipaddress.IPv4Address(addr).packed
        )
        count += 1
    if ptr is not None:
        rdata = encode_name(ptr)
        answers += b"\xc0\x0c" + struct.pack("!HHIH", TYPE_PTR, CLASS_IN, ttl, len(rdata)) + rdata
        count += 1
    flags = FLAG_QR | FLAG_AA | FLAG_RA | (q.flags & FLAG_RD) | (rcode & 0xF)
    header = struct.pack("!HHHHHH", q.id, flags, 1, count, 0, 0)
    return header + q.question_bytes + bytes(answers)


def error_response(data: bytes, rcode: int) -> bytes:
    """A bare error reply for a message that could not be parsed as a query."""
    qid = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 0
    return struct.pack("!HHHHHH", qid, FLAG_QR | FLAG_RA | (rcode & 0xF), 0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Answer:
    id: int
    rcode: int
    addresses: tuple[str, ...]
    names: tuple[str, ...]


def parse_response(data: bytes) -> Answer:
    """Read A and PTR answers from a response (tests, and the forwarder's sanity check)."""
    if len(data) < 12:
        raise InvalidArgument("DNS message shorter than its header")
    qid, flags, qd, an = struct.unpack("!HHHH", data[:8])
    pos = 12
    for _ in range(qd):
        _, pos = _read_name(data, pos)
        pos += 4
    addrs: list[str] = []
    names: list[str] = []
    for _ in range(an):
        _, pos = _read_name(data, pos)
        rtype, _rclass, _ttl, rdlen = struct.unpack("!HHIH", data[pos : pos + 10])
        pos += 10
        rdata = data[pos : pos + rdlen]
        if rtype == TYPE_A and rdlen == 4:
            addrs.append(str(ipaddress.IPv4Address(rdata)))
        elif rtype == TYPE_PTR:
            names.append(_read_name(data, pos)[0])
        pos += rdlen
    return Answer(qid, flags & 0xF, tuple(addrs), tuple(names))


def reverse_name_to_ip(name: str) -> str | None:
    """'2.0.17.172.in-addr.arpa' -> '172.17.0.2'; None for anything else."""
    suffix = ".in-addr.arpa"
    if not name.endswith(suffix):
        return None
    parts = name[: -len(suffix)].split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        return None
    return ".".join(reversed(parts))
