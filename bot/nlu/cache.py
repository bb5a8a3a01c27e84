"""Files the loaded content and the trained model are kept in, shared between processes.

A gunicorn worker, a restarted server or a CLI command starting on the same
files and code reads what another process already computed. Each file is named
by what it depends on (the content's bytes, this package's code, the library
versions), written whole or not at all, and only the newest few of a kind are
kept. They are our own files: anyone able to write to the cache folder could
run code through them, like any file of the instance folder.
"""
from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)
KEEP = 4  # files of one kind: the content live now, and a few before it


def read(path: Path | None, what: str) -> Any:
    """The object kept at `path`, or None if there is none or it cannot be read."""
    if path is None or not path.exists():
        return None
    try:
        with path.open("rb") as f:
            return pickle.load(f)  # noqa: S301 - our own file, written by `write`
    except Exception:  # a partial or outdated file: compute it again
        logger.warning("%s cache %s unreadable; computing it again", what, path.name)
        return None


def write(path: Path | None, found: Any, what: str) -> None:
    """Keep `found` at `path` for other processes; drop the oldest files of its kind."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            pickle.dump(found, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # whole or not at all, for the other processes
        kind = path.name.split("-", 1)[0]
        for old in sorted(path.parent.glob(f"{kind}-*.pickle"),
                          key=lambda p: p.stat().st_mtime)[:-KEEP]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        logger.warning("%s cache not written (%s); each process computes its own", what, exc)
