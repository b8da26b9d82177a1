"""Settings: defaults, normalisation, and one clear line for a wrong value."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError, normalize_database_url
from tests.conftest import IsolatedSettings


def test_defaults_need_nothing() -> None:
    settings = IsolatedSettings()
    assert settings.database_url == "sqlite:///pmbot.db"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert not settings.llm_configured and not settings.jira_configured
    assert len(settings.missing_integrations()) == 2


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/app", "postgresql+psycopg://u:p@db:5432/app"),
        ("postgresql://u:p@db/app", "postgresql+psycopg://u:p@db/app"),
        ("postgresql+psycopg://u@db/app", "postgresql+psycopg://u@db/app"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_url_forms(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_slack_api_url_gets_its_trailing_slash() -> None:
    assert IsolatedSettings(slack_api_url="http://127.0.0.1:9000/api").slack_api_url == "http://127.0.0.1:9000/api/"


def test_password_is_hidden_in_the_database_label() -> None:
    settings = IsolatedSettings(database_url="postgresql://bot:s3cret@db/app")
    assert "s3cret" not in settings.database_label()
    assert "***" in settings.database_label()


def test_secrets_do_not_show_in_repr() -> None:
    settings = IsolatedSettings(slack_bot_token="xoxb-very-secret", openai_api_key="sk-also-secret")
    assert "xoxb-very-secret" not in repr(settings)
    assert "sk-also-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"PMBOT_TIMEZONE": "Mars/Olympus"}, "PMBOT_TIMEZONE"),
        ({"SLACK_API_URL": "not a url"}, "SLACK_API_URL"),
        ({"JIRA_URL": "ftp://jira"}, "JIRA_URL"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"PMBOT_WORKER_THREADS": "0"}, "PMBOT_WORKER_THREADS"),
    ],
)
def test_wrong_value_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path, env: dict, needle: str) -> None:
    from bot.settings import load_settings

    monkeypatch.chdir(tmp_path)  # no stray .env
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert needle in message
    assert "\n" not in message and "Traceback" not in message


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from bot.settings import load_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PMBOT_TIMEZONE", raising=False)
    (tmp_path / ".env").write_text("PMBOT_TIMEZONE=Europe/Berlin\n")
    assert load_settings().pmbot_timezone == "Europe/Berlin"
