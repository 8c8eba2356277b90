"""Settings are declared once (grader.service.config.Settings): every one the code reads,
typed from the environment, documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.service import create_app
from grader.service.config import ConfigError, Settings, from_environment

ROOT = Path(__file__).resolve().parent.parent
# Flask's own settings, which the code reads but Flask declares.
FLASK = {"SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE", "MAX_CONTENT_LENGTH"}
# Set by the entry points and the tests, not by operators.
INTERNAL = {"PROCESS_ROLE", "TESTING", "FAULT_INJECTION", "FAULT_MARKER"}
_READ = re.compile(r"""config(?:\[|\.get\()\s*["']([A-Z][A-Z0-9_]+)["']""")


def test_every_setting_the_code_reads_is_declared():
    read = {
        name
        for folder in ("grader", "worker")
        for path in (ROOT / folder).rglob("*.py")
        for name in _READ.findall(path.read_text())
    }
    assert read, "the pattern found no setting reads"
    assert read - FLASK <= set(Settings.model_fields), read - FLASK - set(Settings.model_fields)


def test_every_setting_is_documented():
    readme = (ROOT / "README.md").read_text()
    missing = [
        n for n in Settings.model_fields if n not in INTERNAL and f"GRADER_{n}" not in readme
    ]
    assert not missing


def test_settings_come_typed_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADER_WEB_SESSION_SECONDS", "60")
    monkeypatch.setenv("GRADER_WEBHOOK_TIMEOUT", "2.5")
    monkeypatch.setenv("GRADER_PAGE_SIZE", "")  # empty means unset
    assert from_environment() == {"WEB_SESSION_SECONDS": 60, "WEBHOOK_TIMEOUT": 2.5}
    app = create_app({"BROKER_URL": "memory://", "INSTANCE_PATH": str(tmp_path)})
    assert app.config["WEB_SESSION_SECONDS"] == 60 and app.config["PAGE_SIZE"] == 50


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PAGE_SIZE", "ten", "GRADER_PAGE_SIZE must be an integer, got 'ten'"),
        ("PAGE_SIZE", "0", "GRADER_PAGE_SIZE: Input should be greater than 0"),
        ("AUTO_RELEASE_CONFIDENCE", "1.5", "GRADER_AUTO_RELEASE_CONFIDENCE: Input should be less"),
        ("SESSION_COOKIE_SECURE", "maybe", "GRADER_SESSION_COOKIE_SECURE must be true or false"),
        ("PROCESS_ROLE", "both", "GRADER_PROCESS_ROLE: Input should be 'web' or 'worker'"),
    ],
)
def test_a_malformed_setting_stops_start_up_naming_it(monkeypatch, name, value, message):
    monkeypatch.setenv(f"GRADER_{name}", value)
    with pytest.raises(ConfigError) as exc:
        create_app({"BROKER_URL": "memory://"})
    assert str(exc.value).startswith(message)


def test_overrides_are_checked_too(tmp_path):
    with pytest.raises(ConfigError, match="CLAIM_SECONDS: Input should be greater than 0"):
        create_app({"BROKER_URL": "memory://", "INSTANCE_PATH": str(tmp_path), "CLAIM_SECONDS": 0})
