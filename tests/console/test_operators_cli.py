"""flask create-operator: asks for a password, stores only its hash."""
from __future__ import annotations

from werkzeug.security import check_password_hash


def test_create_operator_asks_for_the_password_twice_and_hashes_it(bot):
    runner = bot.test_cli_runner()
    result = runner.invoke(args=["create-operator", "carol"],
                           input="a-long-enough-secret\na-long-enough-secret\n")
    assert result.exit_code == 0 and "operator 'carol' created" in result.output
    stored = bot.extensions["bot"].store.operators.by_name("carol")
    assert stored.password_hash.startswith("scrypt:")
    assert check_password_hash(stored.password_hash, "a-long-enough-secret")


def test_short_or_mismatched_passwords_are_refused(bot):
    runner = bot.test_cli_runner()
    short = runner.invoke(args=["create-operator", "dave"], input="short\nshort\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    assert bot.extensions["bot"].store.operators.by_name("dave") is None
