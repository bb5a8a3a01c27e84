"""Start-up stays fast: CLI commands and app creation load no heavy module they do not use.

Counting what is imported, not timing it (timings belong in scripts/bench.py):
line-bot-sdk's models, scikit-learn and Pillow each take a large part of a
second to import, slack-sdk and SQLAlchemy's PostgreSQL dialect a tenth, and a command such as `flask --app bot chat` needs none of
them to show its first question.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("linebot.v3.messaging", "linebot.v3.webhooks", "sklearn", "PIL",
         # a tenth of a second each: Slack's client without Slack, PostgreSQL's on SQLite
         "slack_sdk", "sqlalchemy.dialects.postgresql")

PROBE = """
import json, os, sys
os.environ.update(LINE_CHANNEL_SECRET="secret", LINE_CHANNEL_ACCESS_TOKEN="token",
                  DATABASE_URL=sys.argv[1], DISPATCH_THREADS="0", MODEL_CACHE_DIR=sys.argv[2])
import bot
app = bot.create_app()
loaded = [m for m in %r if m in sys.modules]
with app.app_context():
    services = app.extensions["bot"]
    channel = services.channels["line"]
    services.warm()  # what a worker does in the background when it starts
    print(json.dumps({"at_creation": loaded,
                      "after_warm": [m for m in %r if m in sys.modules],
                      "channel": type(channel.built()).__name__,
                      "trained": services.content.classifier.trained}))
""" % (HEAVY, HEAVY)


def probe(script: str, tmp_path: Path) -> dict:
    """Run `script` in a new process on a database migrated by an earlier start (only the
    first start on a new database loads Alembic); return what it printed last."""
    args = [sys.executable, "-c", script, f"sqlite:///{tmp_path / 'db.sqlite3'}",
            str(tmp_path / "models")]
    for _ in range(2):
        out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_app_creation_with_line_configured_imports_no_heavy_module(tmp_path):
    found = probe(PROBE, tmp_path)
    assert found["at_creation"] == []
    # The worker's warm-up loads the SDK and the model before the first message needs them.
    assert "linebot.v3.messaging" in found["after_warm"]
    assert found["channel"] == "LineChannel"
    assert found["trained"] is True


def test_chat_command_answers_without_the_sdk_or_pillow(tmp_path):
    script = ("import sys, runpy\n"
              "sys.argv = ['flask', '--app', 'bot', 'chat', '--at', '2026-11-23T10:00+09:00']\n"
              "try:\n"
              "    runpy.run_module('flask', run_name='__main__')\n"
              "except SystemExit:\n"
              "    pass\n"
              f"print('LOADED', [m for m in {HEAVY[:2] + HEAVY[3:]!r} if m in sys.modules])\n")
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "PATH": "/usr/bin:/bin",
           "MODEL_CACHE_DIR": str(tmp_path / "models"), "DISPATCH_THREADS": "0"}
    for _ in range(2):  # the first start migrates the new database (and loads Alembic)
        out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, input="quit\n",
                             capture_output=True, text=True, timeout=300, env=env)
    assert "LOADED []" in out.stdout, out.stdout + out.stderr
    assert "相談" in out.stdout  # the greeting was shown


WEB = """
import json, os, sys
os.environ.update(LINE_CHANNEL_SECRET="secret", LINE_CHANNEL_ACCESS_TOKEN="token",
                  DATABASE_URL=sys.argv[1], DISPATCH_THREADS="0", MODEL_CACHE_DIR=sys.argv[2])
sys.path.insert(0, "tests")
import bot
from line_fake import LineUser
app = bot.create_app(dispatch="standby")  # the Procfile's web process
services = app.extensions["bot"]
user = LineUser(app.test_client(), "secret")
codes = [user.post(user.follow()).status_code, user.post(user.text("こんにちは")).status_code]
print(json.dumps({"codes": codes, "stored": len(services.store.pending_keys(9e12)),
                  "loaded": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)


def test_the_webhook_stores_and_acknowledges_without_the_sdk_or_the_model(tmp_path):
    """Acknowledging builds no SDK model and loads no classifier: its CPU goes to storing."""
    found = probe(WEB, tmp_path)
    assert found["codes"] == [200, 200]
    assert found["stored"] == 1  # one conversation with events waiting for a worker
    assert found["loaded"] == []
