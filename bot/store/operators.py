"""Operators (staff who take conversations over) and failed logins."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from .schema import console_sessions, login_failures, operators


@dataclass(frozen=True)
class Operator:
    """A staff account."""

    id: int
    name: str
    password_hash: str


class Operators:
    """Accounts and the record of failed logins that rate-limits guessing."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def create(self, name: str, password_hash: str) -> bool:
        """Add an operator; False if the name is taken."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(operators).values(name=name, password_hash=password_hash,
                                                      created_at=time.time()))
            return True
        except IntegrityError:
            return False

    def set_password(self, name: str, password_hash: str) -> bool:
        """Change an operator's password; False if there is no such operator."""
        with self.engine.begin() as conn:
            return conn.execute(update(operators).where(operators.c.name == name)
                                .values(password_hash=password_hash)).rowcount == 1

    def by_name(self, name: str) -> Operator | None:
        """An operator by login name."""
        with self.engine.connect() as conn:
            r = conn.execute(select(operators).where(operators.c.name == name)).first()
        return Operator(r.id, r.name, r.password_hash) if r else None

    def by_id(self, operator_id: int) -> Operator | None:
        """An operator by id."""
        with self.engine.connect() as conn:
            r = conn.execute(select(operators).where(operators.c.id == operator_id)).first()
        return Operator(r.id, r.name, r.password_hash) if r else None

    def failed(self, name: str, ip: str) -> None:
        """Remember a failed login."""
        with self.engine.begin() as conn:
            conn.execute(insert(login_failures).values(name=name[:100], ip=ip[:60], at=time.time()))

    def failures(self, name: str, ip: str, window: float) -> list[float]:
        """When logins for this name from this address failed, within `window` seconds."""
        since = time.time() - window
        with self.engine.connect() as conn:
            return [r.at for r in conn.execute(select(login_failures.c.at).where(
                login_failures.c.at >= since, login_failures.c.name == name[:100],
                login_failures.c.ip == ip[:60]))]

    def address_failures(self, ip: str, window: float) -> int:
        """Failed logins from this address, for any name, within `window` seconds."""
        since = time.time() - window
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(login_failures).where(
                login_failures.c.at >= since, login_failures.c.ip == ip[:60])).scalar_one())

    def forget_failures(self, before: float) -> None:
        """Drop failed logins older than `before`; ended sessions go with them."""
        with self.engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.at < before))
            conn.execute(delete(console_sessions).where(console_sessions.c.seen_at < before))

    # -- sessions, kept on the server ---------------------------------------------

    def start_session(self, operator_id: int) -> str:
        """Open a session for an operator; return its random id (the cookie's only content)."""
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(insert(console_sessions).values(id=session_id, operator_id=operator_id,
                                                         created_at=now, seen_at=now))
        return session_id

    def session(self, session_id: str) -> tuple[Operator, float] | None:
        """The operator of a live session and when they last acted, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(operators, console_sessions.c.seen_at).join(
                console_sessions, console_sessions.c.operator_id == operators.c.id)
                .where(console_sessions.c.id == session_id[:64])).first()
        return (Operator(row.id, row.name, row.password_hash), row.seen_at) if row else None

    def touch_session(self, session_id: str) -> None:
        """The operator acted: the idle timeout starts again."""
        with self.engine.begin() as conn:
            conn.execute(update(console_sessions).where(console_sessions.c.id == session_id)
                         .values(seen_at=time.time()))

    def end_session(self, session_id: str) -> None:
        """Log out on the server: the session's cookie no longer works anywhere."""
        with self.engine.begin() as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.id == session_id))
