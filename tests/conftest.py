"""Shared fixtures: the app built by its own factory, a fake LINE API, signed payloads."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import create_engine

from bot import create_app
from bot.store import database_url
from bot.store.schema import metadata

from .helpers import launch_chromium
from .line_fake import FakeLine, LineUser

TESTS = Path(__file__).parent
TEST_FLOWS = TESTS / "flows"
SECRET = "test-channel-secret"
TOKEN = "test-channel-token"
POSTGRES_ENV = "TEST_POSTGRES_URL"


@pytest.fixture
def test_flows() -> Path:
    """The small flow the core tests run on."""
    return TEST_FLOWS


def postgres_url() -> str | None:
    """The PostgreSQL the tests may use, from the environment (CI sets it)."""
    return os.environ.get(POSTGRES_ENV)


def fresh_postgres() -> str:
    """Empty the test database and return its URL, or skip with the reason."""
    url = postgres_url()
    if not url and os.environ.get("REQUIRE_POSTGRES"):
        pytest.fail(f"REQUIRE_POSTGRES is set but {POSTGRES_ENV} is not")
    if not url:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}, e.g. "
                    "postgresql://postgres@127.0.0.1:5432/test")
    engine = create_engine(database_url(url))
    metadata.drop_all(engine)
    with engine.begin() as conn:  # the schema's version too: the next Store migrates afresh
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    return fresh_postgres()


@pytest.fixture(scope="session")
def understanding() -> Any:
    """The shipped rules and examples, with the model trained once for the session."""
    from bot.nlu import load_understanding

    root = TESTS.parent
    found, problems = load_understanding(root / "keywords.yaml", root / "examples")
    assert found is not None, "\n".join(map(str, problems))
    found.train()
    return found


@pytest.fixture(scope="session", autouse=True)
def trained_once(understanding: Any) -> None:
    """Train the shipped model once, first: apps built from the same files reuse it, so no
    test's first message waits for training (seconds on a busy machine)."""


@pytest.fixture
def line_api() -> Iterator[FakeLine]:
    """A fake Messaging API on loopback that records what the bot sent."""
    fake = FakeLine()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def make_app(tmp_path: Path, line_api: FakeLine) -> Iterator[Callable[..., Any]]:
    """Build apps by the factory, pointed at the fake API; stop their workers afterwards."""
    apps = []

    def make(**overrides: Any) -> Any:
        config = {
            "TESTING": True,
            "LINE_CHANNEL_SECRET": SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
            "LINE_API_BASE_URL": line_api.url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
            "FLOWS_DIR": str(TEST_FLOWS),
            "DISPATCH_POLL_SECONDS": 0.2,
            "LINE_API_TIMEOUT": 15.0,
        }
        config.update(overrides)
        app = create_app(config)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["bot"].dispatcher.stop()
        app.extensions["bot"].watcher.stop()
        app.extensions["bot"].store.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    """The app on SQLite with the test flow."""
    return make_app()


@pytest.fixture
def user(app: Any) -> LineUser:
    """A LINE user talking to `app` through signed webhooks."""
    return LineUser(app.test_client(), SECRET)


@pytest.fixture
def browser():
    """A headless Chromium (Debian's package) driven by Playwright."""
    yield from launch_chromium()
