"""A stale zygote's last moments: clients already queued on its socket are told
"stale zygote" (so they start a new one), never reset, and the socket's name is
gone before it stops answering."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from berth.shim import protocol as p
from berth.shim import zygote
from berth.shim.sockets import listen


def test_retiring_answers_every_queued_client_stale(tmp_path: Path):
    path = str(tmp_path / p.ZYGOTE_SOCKET_NAME)
    listener, _ = listen(path)
    clients = []
    for n in range(3):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(path)
        c.sendall(p.to_line("spawn", None, id=f"c{n}"))
        clients.append(c)

    zygote._retire(listener, path)

    assert not os.path.exists(path)
    for c in clients:
        c.settimeout(10)
        reply = json.loads(p.read_line_sock(c))
        assert reply["ok"] is False and reply["message"] == "stale zygote"
        c.close()
    assert listener.fileno() == -1  # closed


def test_retiring_with_nobody_queued_just_closes(tmp_path: Path):
    path = str(tmp_path / p.ZYGOTE_SOCKET_NAME)
    listener, _ = listen(path)
    zygote._retire(listener, path)
    assert not os.path.exists(path) and listener.fileno() == -1
