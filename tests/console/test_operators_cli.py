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


def test_a_short_password_is_refused_before_it_is_asked_again(bot):
    runner = bot.test_cli_runner()
    result = runner.invoke(args=["create-operator", "erin"],
                           input="short\na-long-enough-secret\na-long-enough-secret\n")
    assert result.exit_code == 0, result.output
    out = result.output
    refused = out.index("at least 12 characters")
    assert refused < out.index("Repeat for confirmation")   # refused before the repeat
    assert out.count("Repeat for confirmation") == 1          # asked again only for the good one
    assert check_password_hash(bot.extensions["bot"].store.operators.by_name("erin").password_hash,
                               "a-long-enough-secret")


def test_a_short_password_alone_never_reaches_the_repeat_question(bot):
    result = bot.test_cli_runner().invoke(args=["create-operator", "fay"], input="short\n")
    assert result.exit_code != 0
    assert "at least 12 characters" in result.output
    assert "Repeat for confirmation" not in result.output
    assert bot.extensions["bot"].store.operators.by_name("fay") is None


def test_a_short_password_on_the_command_line_is_refused(bot):
    result = bot.test_cli_runner().invoke(args=["create-operator", "gus", "--password", "short"])
    assert result.exit_code != 0 and "at least 12 characters" in result.output
    assert bot.extensions["bot"].store.operators.by_name("gus") is None
