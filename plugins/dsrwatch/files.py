"""Files the project writes appear whole or not at all: written to a temporary name beside the
target, flushed to disk, then renamed over it (a full disk or a kill leaves no truncated file)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | os.PathLike, data: bytes | str, *, mode: int | None = None,
                 encoding: str = "utf-8") -> Path:  # fmt: skip
    """Write ``data`` to ``path`` atomically; ``mode`` (e.g. 0o600) is set before the rename, so
    the file is never readable by others even for a moment."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode(encoding) if isinstance(data, str) else data
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
