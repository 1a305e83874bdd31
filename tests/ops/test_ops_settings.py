"""The operations settings fail at start naming the variable, as every setting does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_settings import _settings_in_subprocess


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LOG_FORMAT", "xml"), ("SENTRY_TRACES_SAMPLE_RATE", "2"), ("SENTRY_DSN", "sentry.example.com/1")],
)
def test_a_bad_operations_value_fails_at_start_naming_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    result = _settings_in_subprocess(tmp_path, **{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.splitlines()[-1]
