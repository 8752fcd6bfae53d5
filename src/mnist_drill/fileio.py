"""Files written so that an interrupted run leaves nothing half-written: the old file, or the whole new one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the temp file must be in the same folder: os.replace is atomic only within one file system
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def probe_writable(folder: str | os.PathLike) -> None:
    """Create `folder` if needed and write (then drop) a temp file in it; raises OSError where that fails."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass


def write_json(path: str | os.PathLike, data) -> Path:
    """Write JSON atomically (indented, one trailing newline)."""
    return atomic_write_bytes(path, (json.dumps(data, indent=1) + "\n").encode())
