"""Which values count as secrets, and what every error shows of them (sensitive.py's rule)."""

from __future__ import annotations

import pytest

from reconciler import errors, sensitive

RULE = sensitive.DEFAULT


@pytest.mark.parametrize(
    "name",
    [
        "API_TOKEN",
        "DB_PASSWORD",
        "DB_PASS",
        "db_passwd",
        "SERVICE_CREDENTIALS",
        "TLS_PRIVATE_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "OPENAI_API_KEY",
        "AUTH_HEADER",
        "config.env.DB_PASSWORD",
    ],
)
def test_secret_looking_names(name: str) -> None:
    assert RULE.name(name)


@pytest.mark.parametrize("name", ["LOG_LEVEL", "GPU_COUNT", "REGION", "DATABASE_URL", ""])
def test_ordinary_names(name: str) -> None:
    assert not RULE.name(name)


def test_urls_with_a_password_in_their_userinfo_are_secret_whatever_their_name() -> None:
    assert RULE.hides("DATABASE_URL", "postgres://u:pw@h/db")
    assert not RULE.hides("DATABASE_URL", "postgres://u@h/db"), "no password, nothing to hide"
    assert not RULE.hides("CACHE_URL", "redis://cache:6379/0")
    assert RULE.redact_text("DATABASE_URL=postgres://u:pw@h/db") == (
        "DATABASE_URL=postgres://u:(sensitive value)@h/db"
    )


def test_users_add_names_and_patterns_without_regard_to_case() -> None:
    marked = RULE.with_names(["ACME_*", "license"])
    assert marked.name("acme_seed") and marked.name("LICENSE") and not marked.name("REGION")
    assert not RULE.name("ACME_SEED"), "the default rule is unchanged"


def test_every_part_of_an_error_is_redacted() -> None:
    error = errors.ValuesError(
        "line 3: mapping values are not allowed\n  3 |   DB_PASSWORD: hunter2: [x",
        source="values.yaml",
        detail="--set env.API_TOKEN=tok-1,env.LOG_LEVEL=INFO",
        hint="the URL postgres://app:pw-2@db/x",
    )
    shown = " ".join([str(error), repr(error), *error.args])
    for secret in ("hunter2", "tok-1", "pw-2"):
        assert secret not in shown
    assert "env.LOG_LEVEL=INFO" in error.detail, "what is not secret still shows"


def test_a_message_about_a_secrets_place_shows_no_value_it_quotes() -> None:
    error = errors.ValuesError(
        "expected a string, got 987654321", source="v.yaml", path="a.env.DB_PASSWORD"
    )
    assert error.summary == "v.yaml:a.env.DB_PASSWORD: expected a string, got (sensitive value)"
    other = errors.ValuesError("expected a string, got 5", source="v.yaml", path="a.replicas")
    assert other.summary.endswith("got 5")
    marked = errors.ValuesError("expected a string, got 4242", path="env.ACME_PIN")
    assert "4242" in marked.summary
    marked.redacted_with(RULE.with_names(["ACME_*"]))
    assert "4242" not in marked.summary and "4242" not in str(marked)


def test_builtin_bases_of_the_sdks_errors() -> None:
    assert issubclass(errors.ArgumentError, ValueError)
    assert issubclass(errors.ArgumentTypeError, TypeError)
    assert issubclass(errors.FilterError, ValueError)
    assert issubclass(errors.UpgradeTargetError, ValueError)
    for cls in (errors.ArgumentError, errors.FilterError, errors.UpgradeTargetError):
        assert issubclass(cls, errors.ReconcilerError)
