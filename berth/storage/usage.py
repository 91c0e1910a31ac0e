"""Disk usage of a directory tree (bytes of regular files, hard links once; inodes)."""

from __future__ import annotations

import os
from pathlib import Path

from berth.storage.snapshotter import Usage


def dir_usage(root: Path) -> Usage:
    size = 0
    inodes = 0
    seen: set[tuple[int, int]] = set()
    stack = [str(root)]
    while stack:
        current = stack.pop()
        with os.scandir(current) as it:
            for entry in it:
                st = entry.stat(follow_symlinks=False)
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                inodes += 1
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    size += st.st_size
    return Usage(size=size, inodes=inodes)
