"""A provider SDK that logs or prints part of the API key inside a checkpoint: the execution's
stored log lines hold ``***`` in its place (``executions logs``, the log files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.llm.leaky_provider import KEY, middle, run_leaky


def test_a_log_line_echoing_part_of_the_key_is_scrubbed_before_it_is_stored(
    kitaru_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitaru.cli.main import cli

    piece = middle(KEY)
    execution_id = run_leaky(monkeypatch, echo_to_logs=True)
    result = CliRunner().invoke(cli, ["executions", "logs", execution_id],
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "401 from the provider for key ...***..." in result.stdout  # logged
    assert "leaky sdk: retrying with ...***..." in result.stdout  # printed
    assert piece not in result.stdout + result.stderr
    secrets = kitaru_home / "secrets.json"
    stored = [p for p in kitaru_home.rglob("*") if p.is_file() and p != secrets]
    assert any("logs" in p.parts for p in stored)
    for path in stored:
        data = path.read_bytes()
        assert piece.encode() not in data and KEY.encode() not in data, path
