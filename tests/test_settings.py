"""Bad configuration stops the process at start with one line naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD = {"SECRET_KEY": "x" * 60, "DEBUG": "false", "ALLOWED_HOSTS": "portal.example.com"}


def load_settings(**overrides):
    environment = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    environment.update(GOOD)
    environment.update(overrides)
    environment = {key: value for key, value in environment.items() if value is not None}
    return subprocess.run(
        [sys.executable, "-c", "import partnerportal.settings"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_good_settings_load():
    assert load_settings().returncode == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG must be true or false, got 'maybe'"),
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set when DEBUG is off"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must name at least one host"),
        (
            {"DATABASE_URL": "nonsense://what"},
            "DATABASE_URL must be a sqlite:/// or postgres:// URL, got scheme 'nonsense'",
        ),
        ({"DATABASE_URL": "mysql://root@localhost/portal"}, "DATABASE_URL must be a sqlite:/// or postgres:// URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must start with redis://"),
        ({"SECURE_HSTS_SECONDS": "a year"}, "SECURE_HSTS_SECONDS must be a whole number"),
        ({"HEALTHZ_MAX_BEAT_AGE": "0"}, "HEALTHZ_MAX_BEAT_AGE must be at least 1"),
        ({"CSRF_TRUSTED_ORIGINS": "portal.example.com"}, "CSRF_TRUSTED_ORIGINS entries need a scheme"),
        ({"EMAIL_URL": "pigeon://coop"}, "EMAIL_URL is not an email URL we understand"),
    ],
)
def test_a_bad_value_stops_with_one_line_naming_it(overrides, message):
    result = load_settings(**overrides)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error: ")
    assert message in lines[0]


def test_manage_py_stops_the_same_way():
    environment = {**os.environ, **GOOD, "DEBUG": "perhaps"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "Configuration error: DEBUG must be true or false, got 'perhaps'"
