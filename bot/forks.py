"""Objects that start afresh in a forked child process.

gunicorn and `flask work` fork processes from one that built the app. A child
has none of its parent's threads, and a lock that another parent thread held at
the fork stays held in the child for ever. An object registered here has its
`_forked()` called in the child, before any of the child's threads run.
"""
from __future__ import annotations

import os
import weakref
from typing import Any

_REGISTERED: weakref.WeakSet[Any] = weakref.WeakSet()


def reset_after_fork(obj: Any) -> None:
    """Call `obj._forked()` in every child forked from now on, for as long as `obj` lives."""
    _REGISTERED.add(obj)


def _after_fork() -> None:
    for obj in list(_REGISTERED):
        obj._forked()


os.register_at_fork(after_in_child=_after_fork)
