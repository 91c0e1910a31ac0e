"""Layer tars in and out: apply a layer safely, diff an upper dir back into one.

Applying (`apply_layer`): the stream may be gzip, zstd or plain (detected from
its magic bytes); its uncompressed sha256 is the layer's diff id and is
checked against the expected one when given. Whiteouts (`.wh.<name>` deletes
<name>; `.wh..wh..opq` makes a directory opaque) are written in the target's
format: overlay's (a 0/0 character device; `trusted.overlay.opaque=y`) or by
deleting in place (vfs). Owners, modes, mtimes, xattrs, hardlinks, symlinks,
device nodes and fifos are preserved.

Extraction is safe whatever order the entries come in: a name that is
absolute or has a `..` component is refused; a hardlink must name an earlier
entry inside the root; a relative symlink may not point outside the root (an
absolute one is kept: it means the container's root, as in Docker); an entry
is never written through a symlink (a directory replaced by a symlink midway
makes later entries below it fail). Any refusal raises InvalidArgument naming
the entry; the caller discards the snapshot, so nothing partial survives.

Out (`write_diff` / `changes`): walk an upper dir (overlay) or compare a copy
with its parent (vfs) and produce a layer tar with whiteouts in the tar form,
or the A/C/D list of `docker diff`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ChangeKind(IntEnum):
    """The Engine API's numbering for `GET /containers/{id}/changes`."""

    MODIFIED = 0
    ADDED = 1
    DELETED = 2

    @property
    def letter(self) -> str:
        return "CAD"[self.value]


@dataclass(frozen=True, slots=True)
class Change:
    path: str
    kind: ChangeKind

    def to_json(self) -> dict[str, object]:
        return {"Path": self.path, "Kind": int(self.kind)}


@dataclass(frozen=True, slots=True)
class AppliedLayer:
    """The result of applying one layer: its diff id and unpacked size in bytes."""

    diff_id: str
    size: int
    compressed_digest: str | None = None
