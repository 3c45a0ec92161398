"""Secrets come from the environment or a file; missing, short, placeholder and weak values are refused."""

import pytest
from decouple import Config
from django.core.exceptions import ImproperlyConfigured

from sso_shared.environment.values import ComposeEnvRepository, secret, secret_list

GOOD = "k7Vq-Xz2mP" * 6
OTHER = "j3Rw_Lt8Ns" * 6


def test_a_secret_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("TEST_SECRET", GOOD)
    assert secret("TEST_SECRET") == GOOD


def test_a_secret_is_read_from_a_file(monkeypatch, tmp_path):
    path = tmp_path / "secret"
    path.write_text(GOOD + "\n")
    monkeypatch.setenv("TEST_SECRET_FILE", str(path))
    assert secret("TEST_SECRET") == GOOD


def test_a_missing_secret_says_what_to_set(monkeypatch):
    monkeypatch.delenv("TEST_SECRET", raising=False)
    with pytest.raises(ImproperlyConfigured, match=r"TEST_SECRET is not set.*\./stack env"):
        secret("TEST_SECRET")


def test_an_unreadable_secret_file_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("TEST_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="TEST_SECRET_FILE=.*missing cannot be read"):
        secret("TEST_SECRET")


def test_the_placeholder_from_env_example_is_refused(monkeypatch):
    monkeypatch.setenv("TEST_SECRET", "change-me-" + "x" * 60)
    with pytest.raises(ImproperlyConfigured, match="placeholder"):
        secret("TEST_SECRET")


def test_a_short_secret_is_refused(monkeypatch):
    monkeypatch.setenv("TEST_SECRET", "short")
    with pytest.raises(ImproperlyConfigured, match="too short"):
        secret("TEST_SECRET")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("k" * 60, r"TEST_SECRET has too little variety \(1 different character, at least 5 needed\)"),
        ("abcd" * 15, r"TEST_SECRET has too little variety \(4 different characters, at least 5 needed\)"),
        ("django-insecure-" + GOOD, r"TEST_SECRET starts with 'django-insecure-'"),
    ],
)
def test_a_key_django_would_call_weak_is_refused_with_the_fix(monkeypatch, value, says):
    # Django's security.W009 only warns, and only under `check --deploy`; here it stops the start.
    monkeypatch.setenv("TEST_SECRET", value)
    with pytest.raises(ImproperlyConfigured, match=says + r".*\./stack env"):
        secret("TEST_SECRET")


def test_five_different_characters_are_enough_variety(monkeypatch):
    monkeypatch.setenv("TEST_SECRET", "abcde" * 10)
    assert secret("TEST_SECRET") == "abcde" * 10


def test_a_weak_fallback_key_is_refused(monkeypatch):
    monkeypatch.setenv("TEST_FALLBACKS", f"{GOOD},{'o' * 60}")
    with pytest.raises(ImproperlyConfigured, match=r"TEST_FALLBACKS holds a key that has too little variety"):
        secret_list("TEST_FALLBACKS")


def test_fallback_keys_are_a_checked_list(monkeypatch):
    monkeypatch.setenv("TEST_FALLBACKS", f"{GOOD}, {OTHER}")
    assert secret_list("TEST_FALLBACKS") == [GOOD, OTHER]
    monkeypatch.setenv("TEST_FALLBACKS", "change-me")
    with pytest.raises(ImproperlyConfigured):
        secret_list("TEST_FALLBACKS")


def test_fallback_keys_are_read_from_a_file_first(monkeypatch, tmp_path):
    path = tmp_path / "fallbacks"
    path.write_text(f"{GOOD},{OTHER}\n")
    monkeypatch.setenv("TEST_FALLBACKS", "change-me")  # ignored: the file wins, as with secret()
    monkeypatch.setenv("TEST_FALLBACKS_FILE", str(path))
    assert secret_list("TEST_FALLBACKS") == [GOOD, OTHER]
    path.write_text("")  # Compose mounts an empty file when there are no fallbacks
    assert secret_list("TEST_FALLBACKS") == []
    path.write_text("short")
    with pytest.raises(ImproperlyConfigured, match="TEST_FALLBACKS holds a placeholder or too short key"):
        secret_list("TEST_FALLBACKS")
    monkeypatch.setenv("TEST_FALLBACKS_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="TEST_FALLBACKS_FILE=.*missing cannot be read"):
        secret_list("TEST_FALLBACKS")


def test_an_env_file_is_read_with_compose_rules_and_the_environment_wins(monkeypatch, tmp_path):
    path = tmp_path / ".env"
    path.write_text("TEST_QUOTED='a # b $HOME'\nTEST_COMMENTED=c # d\nTEST_OVERRIDDEN=from-file\n")
    monkeypatch.setenv("TEST_OVERRIDDEN", "from-environment")
    config = Config(ComposeEnvRepository(str(path)))
    assert config("TEST_QUOTED") == "a # b $HOME"
    assert config("TEST_COMMENTED") == "c"
    assert config("TEST_OVERRIDDEN") == "from-environment"
