"""Configuration: defaults, then the environment, then a test mapping (in the factory)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

PROJECT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    "LINE_CHANNEL_SECRET": None,
    "LINE_CHANNEL_ACCESS_TOKEN": None,
    "LINE_API_BASE_URL": None,       # send Messaging API calls here instead (tests, proxies)
    "LINE_API_TIMEOUT": 10.0,        # seconds for one Messaging API call
    "DATABASE_URL": None,            # default: a SQLite file in the instance folder
    "SECRET_KEY": None,
    "FLOWS_DIR": str(PROJECT / "flows"),
    "ENTRY_FLOW": "main",
    "CONTACTS_FILE": str(PROJECT / "contacts.yaml"),
    "KEYWORDS_FILE": str(PROJECT / "keywords.yaml"),
    "EXAMPLES_DIR": str(PROJECT / "examples"),
    "STORIES_DIR": str(PROJECT / "stories"),
    "STAFF_FILE": str(PROJECT / "staff.yaml"),
    "IDLE_TIMEOUT_HOURS": 24.0,      # a conversation idle this long starts afresh
    "DISPATCH_THREADS": 2,           # worker threads per process
    "DISPATCH_SETTLE_SECONDS": 0.25, # wait this long so events sent together are ordered
    "DISPATCH_POLL_SECONDS": 2.0,    # look for orphaned events this often
    "DISPATCH_LEASE_SECONDS": 60.0,  # a dead worker's conversations free up after this
    "LOADING_AFTER_SECONDS": 1.0,    # show the typing dots if an answer takes longer
    "RELOAD_SECONDS": 2.0,           # look for edited content this often
    "TRANSCRIPT_DAYS": 30.0,         # transcripts are deleted after this many days
    "SLACK_WEBHOOK_URL": None,       # announce new handoffs here (no message text)
    "CONSOLE_BASE_URL": "",          # for links in announcements, e.g. https://bot.example.org
    "CONSOLE_SHOW_PROFILE": False,   # show operators the person's LINE display name
    "CONSOLE_SESSION_MINUTES": 30.0, # an idle console session expires after this
    "SIMULATOR": "auto",             # auto: on without a LINE channel; on; off
    "SIMULATOR_PASSWORD": None,      # required to turn it on where a LINE channel is set
    "MAX_CONTENT_LENGTH": 1024 * 1024,
}

_FLOATS = {"TRANSCRIPT_DAYS", "CONSOLE_SESSION_MINUTES", "LINE_API_TIMEOUT", "IDLE_TIMEOUT_HOURS", "DISPATCH_SETTLE_SECONDS",
           "DISPATCH_POLL_SECONDS", "DISPATCH_LEASE_SECONDS", "LOADING_AFTER_SECONDS",
           "RELOAD_SECONDS"}
_INTS = {"DISPATCH_THREADS"}


_BOOLS = {"CONSOLE_SHOW_PROFILE"}


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Pick our settings out of the environment, converting numbers."""
    out: dict[str, Any] = {}
    for key in DEFAULTS:
        value = environ.get(key)
        if value is None or value == "":
            continue
        if key in _FLOATS:
            out[key] = float(value)
        elif key in _INTS:
            out[key] = int(value)
        elif key in _BOOLS:
            out[key] = value.strip().lower() in ("1", "true", "yes", "on")
        else:
            out[key] = value
    return out
