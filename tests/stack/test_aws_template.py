"""``stacks/aws.yaml`` and ``stacks/aws-local.yaml`` without the kitaru-aws plugin: registering it fails in one line that says
what to install (the plugin's own tests, against moto, cover it installed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.cli_helpers import assert_one_line_error, kitaru

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "stacks" / "aws-local.yaml"
SAGEMAKER_TEMPLATE = REPO / "stacks" / "aws.yaml"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("KITARU_S3_PATH", "s3://my-bucket/kitaru")


def test_register_without_the_plugin_says_pip_install_kitaru_aws(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # load no plugin entry point but the builtin ones: as if kitaru-aws were not installed
    monkeypatch.setenv("KITARU_PLUGINS", "none")
    proc = kitaru("stack", "register", "aws", "--file", str(TEMPLATE))
    error = assert_one_line_error(proc, contains="s3")
    assert "pip install kitaru-aws" in proc.stderr, error
    listed = kitaru("stack", "list")
    assert " aws " not in listed.stdout  # nothing half-registered


def test_register_without_the_region_names_the_variable(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION")
    proc = kitaru("stack", "register", "aws", "--file", str(TEMPLATE))
    assert_one_line_error(proc, contains="AWS_REGION")


def test_sagemaker_template_without_the_plugin_says_pip_install_kitaru_aws(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITARU_ECR_REGISTRY", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/k")
    monkeypatch.setenv("KITARU_SAGEMAKER_ROLE_ARN", "arn:aws:iam::123456789012:role/job")
    monkeypatch.setenv("KITARU_PLUGINS", "none")
    proc = kitaru("stack", "register", "aws", "--file", str(SAGEMAKER_TEMPLATE))
    error = assert_one_line_error(proc)
    assert "pip install kitaru-aws" in proc.stderr, error
    assert " aws " not in kitaru("stack", "list").stdout


def test_sagemaker_template_without_the_role_names_the_variable(aws_env: None) -> None:
    proc = kitaru("stack", "register", "aws", "--file", str(SAGEMAKER_TEMPLATE))
    assert_one_line_error(proc, contains="KITARU_SAGEMAKER_ROLE_ARN")
