"""The build log: stage outputs released in stage order, and display names."""

from __future__ import annotations

import threading
from collections.abc import Callable

Output = Callable[[str], None]


class Sequencer:
    """Releases each stage's output in stage order; the current stage streams live."""

    def __init__(self, out: Output, order: list[int]) -> None:
        self.out = out
        self.order = order
        self.pos = 0
        self.buffers: dict[int, list[str]] = {i: [] for i in order}
        self.done: set[int] = set()
        self.lock = threading.Lock()

    def write(self, stage: int, text: str) -> None:
        with self.lock:
            if self.pos < len(self.order) and self.order[self.pos] == stage:
                self.out(text)
            else:
                self.buffers[stage].append(text)

    def finish(self, stage: int) -> None:
        with self.lock:
            self.done.add(stage)
            while self.pos < len(self.order) and self.order[self.pos] in self.done:
                self.pos += 1
                if self.pos < len(self.order):
                    nxt = self.order[self.pos]
                    for text in self.buffers[nxt]:
                        self.out(text)
                    self.buffers[nxt] = []

    def flush_all(self) -> None:
        with self.lock:
            for i in self.order[self.pos :]:
                for text in self.buffers[i]:
                    self.out(text)
                self.buffers[i] = []


def familiar_tag(tag: str) -> str:
    from berth.errors import BerthError
    from berth.image import reference as refs

    try:
        return refs.parse(tag).tagged_or_latest().familiar()
    except BerthError:
        return tag
