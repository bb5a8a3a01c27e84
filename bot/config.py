"""Configuration: defaults, then the environment, then a test mapping (in the factory)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

PROJECT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    "LINE_CHANNEL_SECRET": None,
    "LINE_CHANNEL_ACCESS_TOKEN": None,
    "LINE_API_BASE_URL": None,       # send Messaging API calls here instead (tests, proxies)
    "LINE_API_DATA_URL": None,       # and api-data.line.me's (rich menu images); default: the above
    "RICHMENU_FONT": None,           # a font file for the rich menu's image (default: Noto Sans CJK)
    "LINE_CHAT_MODE": False,         # chat is on in LINE Official Account Manager: mark messages read
    # Seconds for one Messaging API call. Longer than LINE's slow answers, so that a slow
    # success is not taken for a failure; an unknown outcome is resolved, never resent blindly.
    "LINE_API_TIMEOUT": 30.0,
    "DATABASE_URL": None,            # default: a SQLite file in the instance folder
    "SECRET_KEY": None,
    "FLOWS_DIR": str(PROJECT / "flows"),
    "ENTRY_FLOW": "main",
    "CONTACTS_FILE": str(PROJECT / "contacts.yaml"),
    "KEYWORDS_FILE": str(PROJECT / "keywords.yaml"),
    "EXAMPLES_DIR": str(PROJECT / "examples"),
    "MODEL_CACHE_DIR": None,         # trained models shared by processes (default instance/models)
    "STORIES_DIR": str(PROJECT / "stories"),
    "STAFF_FILE": str(PROJECT / "staff.yaml"),
    "IDLE_TIMEOUT_HOURS": 24.0,      # a conversation idle this long starts afresh
    # Handling threads of a web (or `flask run`) process, and how many threads of any
    # process decide at once (the CPU and database part of handling an event).
    "DISPATCH_THREADS": 2,
    # Handling threads of each `flask --app bot work` process. A thread carries one event
    # at a time, the wait for LINE's answer included: processes x threads bound the events
    # in flight, so they must exceed the peak rate times the API's answer time.
    "WORKER_THREADS": 16,
    # "all": web processes handle events too; "standby": they only store and answer LINE,
    # and `flask --app bot work` processes handle (the Procfile); "worker": set by `work`.
    "DISPATCH_MODE": "all",
    "DISPATCH_STANDBY_SECONDS": 5.0, # standby web processes handle events left this long
    # Only once a person's events are seen arriving out of timestamp order: their next one
    # waits this long after the latest arrival, so stragglers are still put in order.
    "DISPATCH_REORDER_SECONDS": 0.25,
    "DISPATCH_POLL_SECONDS": 5.0,    # look for events no wake-up announced this often
    "DISPATCH_LEASE_SECONDS": 15.0,  # a dead worker's conversations free up after this
    "REPLY_RETRY_HOURS": 24.0,       # an undeliverable answer is retried this long ...
    "RETRY_MAX_SECONDS": 300.0,      # ... with backoff doubling up to this (or Retry-After)
    "STUCK_ALERT_SECONDS": 120.0,    # tell staff (Slack, console) of answers stuck this long
    "LOADING_AFTER_SECONDS": 1.0,    # show the typing dots if an answer takes longer
    "RELOAD_SECONDS": 2.0,           # look for edited content this often
    "TRANSCRIPT_DAYS": 30.0,         # transcripts are deleted after this many days
    "SLACK_WEBHOOK_URL": None,       # announce new handoffs here (no message text)
    "CONSOLE_BASE_URL": "",          # for links in announcements, e.g. https://bot.example.org
    "CONSOLE_SHOW_PROFILE": False,   # show operators the person's LINE display name
    "CONSOLE_SESSION_MINUTES": 30.0, # an idle console session expires after this
    "SIMULATOR": "auto",             # auto: on without a LINE channel; on; off
    "SIMULATOR_PASSWORD": None,      # required to turn it on where a LINE channel is set
    "MAX_CONTENT_LENGTH": 1024 * 1024,  # larger requests get 413 (LINE's bodies are small)
    "SESSION_COOKIE_SECURE": None,   # None: secure wherever a LINE channel is configured
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
    "PROXY_FIX_X_FOR": 0,            # proxies in front that set X-Forwarded-For (0: none)
    "PROXY_FIX_X_PROTO": 0,          # proxies in front that set X-Forwarded-Proto
}

_FLOATS = {"TRANSCRIPT_DAYS", "DISPATCH_STANDBY_SECONDS", "CONSOLE_SESSION_MINUTES", "LINE_API_TIMEOUT",
           "IDLE_TIMEOUT_HOURS", "DISPATCH_REORDER_SECONDS", "DISPATCH_POLL_SECONDS",
           "DISPATCH_LEASE_SECONDS", "LOADING_AFTER_SECONDS", "RELOAD_SECONDS",
           "REPLY_RETRY_HOURS", "STUCK_ALERT_SECONDS", "RETRY_MAX_SECONDS"}
_INTS = {"DISPATCH_THREADS", "WORKER_THREADS", "MAX_CONTENT_LENGTH", "PROXY_FIX_X_FOR", "PROXY_FIX_X_PROTO"}
_BOOLS = {"CONSOLE_SHOW_PROFILE", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "LINE_CHAT_MODE"}


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
