"""Operators (staff who take conversations over) and failed logins."""
from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from .schema import login_failures, operators


@dataclass(frozen=True)
class Operator:
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
        with self.engine.begin() as conn:
            return conn.execute(update(operators).where(operators.c.name == name)
                                .values(password_hash=password_hash)).rowcount == 1

    def by_name(self, name: str) -> Operator | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(operators).where(operators.c.name == name)).first()
        return Operator(r.id, r.name, r.password_hash) if r else None

    def by_id(self, operator_id: int) -> Operator | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(operators).where(operators.c.id == operator_id)).first()
        return Operator(r.id, r.name, r.password_hash) if r else None

    def failed(self, name: str, ip: str) -> None:
        """Remember a failed login."""
        with self.engine.begin() as conn:
            conn.execute(insert(login_failures).values(name=name[:100], ip=ip[:60], at=time.time()))

    def recent_failures(self, name: str, ip: str, window: float) -> int:
        """Failed logins for this name or from this address within `window` seconds."""
        since = time.time() - window
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(login_failures).where(
                login_failures.c.at >= since,
                or_(login_failures.c.name == name, login_failures.c.ip == ip))).scalar()

    def forget_failures(self, before: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.at < before))
