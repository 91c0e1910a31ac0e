from __future__ import annotations

import pytest

from berth.errors import InvalidArgument
from berth.image.config_changes import apply_changes


def test_changes_apply_in_order() -> None:
    cfg = apply_changes(
        {"Env": ["A=1"]},
        [
            'CMD ["sh", "-c", "echo hi"]',
            "ENTRYPOINT /init",
            "ENV A=2 B=3",
            "ENV C hello world",
            "EXPOSE 80 53/udp",
            'LABEL a=b "c=d e"',
            "USER nobody",
            "WORKDIR /srv",
            "VOLUME /data",
            "STOPSIGNAL SIGINT",
        ],
    )
    assert cfg["Cmd"] == ["sh", "-c", "echo hi"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "/init"]
    assert cfg["Env"] == ["A=2", "B=3", "C=hello world"]
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert cfg["Labels"] == {"a": "b", "c": "d e"}
    assert (cfg["User"], cfg["WorkingDir"], cfg["StopSignal"]) == ("nobody", "/srv", "SIGINT")
    assert cfg["Volumes"] == {"/data": {}}


def test_unknown_instruction() -> None:
    with pytest.raises(InvalidArgument, match="RUN is not a valid change command"):
        apply_changes({}, ["RUN echo"])
