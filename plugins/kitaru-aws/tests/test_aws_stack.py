"""The ``stacks/aws-local.yaml`` template (S3 + Secrets Manager, local execution) against moto: registered, verified (one line per component
when the endpoint is down), and the seed flow's artifacts in S3 with its LLM credential from
Secrets Manager."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_moto import Moto

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "stacks" / "aws-local.yaml"
SEED = REPO / "examples" / "review_flow.py"
SECRET = "sk-kitaru-AWS-TEST-0a9b8c7d6e5f"


def kitaru(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kitaru.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_import_kitaru_and_listing_flavors_import_no_aws_sdk() -> None:
    code = (
        "import sys, kitaru\n"
        "from kitaru.plugins.manager import plugin_manager\n"
        "assert plugin_manager().flavor('artifact_store', 's3').provider == 'kitaru-aws'\n"
        "assert plugin_manager().flavor('secret_store', 'aws').provider == 'kitaru-aws'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 's3fs', 'aiobotocore')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_s3_urls_are_served_by_the_s3_flavor(isolated_kitaru_home: Path) -> None:
    """The flavor declares its scheme: ``kitaru server start --artifact-store s3://...`` finds it
    through the flavor registry (the core names no cloud)."""
    from kitaru.plugins.manager import plugin_manager
    from kitaru.server.run import use_artifact_store
    from kitaru.stack.registry import get_stack

    flavor = plugin_manager().flavor_for_scheme("artifact_store", "s3")
    assert (flavor.name, flavor.provider, flavor.schemes) == ("s3", "kitaru-aws", ("s3",))
    assert use_artifact_store("s3://bucket/kitaru") == "s3"
    store = get_stack("local").model_dump()["components"]["artifact_store"]
    assert (store["flavor"], store["config"]["path"]) == ("s3", "s3://bucket/kitaru")


def test_template_registers_and_verifies_then_moto_down_fails_one_line_each(
    aws_env: dict[str, str], tmp_path: Path
) -> None:
    from aws_moto import running_moto

    with running_moto(tmp_path / "own-moto.log") as own:
        env = {**aws_env, "AWS_ENDPOINT_URL": own.endpoint_url}
        bucket = aws_env["KITARU_S3_PATH"].split("/")[2]
        own.client("s3").create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
        registered = kitaru("stack", "register", "aws", "--file", str(TEMPLATE), env=env)
        assert registered.returncode == 0, registered.stderr
        # the litellm gateway's verify resolves its credential: through Secrets Manager
        stored = kitaru("secret", "set", "--stack", "aws", "llm", f"api_key={SECRET}", env=env)
        assert stored.returncode == 0, stored.stderr
        ok = kitaru("stack", "verify", "aws", env=env)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "ok    artifact_store aws (s3)" in ok.stdout
        assert "ok    secret_store aws (aws)" in ok.stdout
        assert "ok    llm_gateway aws (litellm)" in ok.stdout
    started = time.monotonic()
    down = kitaru("stack", "verify", "aws", env=env)
    seconds = time.monotonic() - started
    from aws_moto import TIMINGS

    TIMINGS["verify with moto down (s)"] = round(seconds, 2)
    assert down.returncode == 1
    lines = down.stdout.splitlines()
    failed = [line for line in lines if "FAIL" in line]
    assert len(failed) == 3, down.stdout
    s3_line, secrets_line, llm_line = failed
    assert "artifact_store aws (s3)" in s3_line and "not writable" in s3_line
    assert "secret_store aws (aws)" in secrets_line and "unreachable" in secrets_line
    # the gateway's credential lives in the unreachable secret store
    assert (
        "llm_gateway aws (litellm)" in llm_line
        and "cannot read AWS secret 'kitaru/llm'" in llm_line
    )
    for line in failed:
        assert own.endpoint_url in line
        assert "Could not connect" in line  # why, in botocore's words
    assert "ok    orchestrator" in down.stdout  # the other components still verify
    assert seconds < 60


def test_template_validates_its_config(aws_env: dict[str, str]) -> None:
    env = {**aws_env, "KITARU_S3_PATH": "my-bucket/kitaru"}  # no s3://
    proc = kitaru("stack", "register", "aws", "--file", str(TEMPLATE), env=env)
    assert proc.returncode != 0
    assert "s3://" in proc.stderr


def aws_stack_with_offline_llm(calls_log: Path) -> str:
    """The template, with the offline gateway (logging calls) for the litellm one."""
    import yaml

    data: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())
    data["components"]["llm_gateway"] = {
        "flavor": "offline",
        "config": {"credentials": {"offline": "{{secret:llm.api_key}}"},
                   "calls_log": str(calls_log)},
    }  # fmt: skip
    return yaml.safe_dump(data)


def test_seed_flow_artifacts_land_in_s3_and_the_llm_key_comes_from_secrets_manager(
    aws_env: dict[str, str], moto: Moto, bucket: str, tmp_path: Path
) -> None:
    calls_log = tmp_path / "provider-calls.jsonl"
    stack_file = tmp_path / "aws-offline.yaml"
    stack_file.write_text(aws_stack_with_offline_llm(calls_log))
    env = {**aws_env, "KITARU_STACK": "aws", "KITARU_INLINE_LIMIT": "0"}
    assert kitaru("stack", "register", "aws", "--file", str(stack_file), env=env).returncode == 0
    stored = kitaru("secret", "set", "--stack", "aws", "llm", f"api_key={SECRET}", env=env)
    assert stored.returncode == 0, stored.stderr
    assert SECRET not in stored.stdout + stored.stderr
    secretsmanager: Any = moto.client("secretsmanager")
    raw = secretsmanager.get_secret_value(SecretId="kitaru/llm")["SecretString"]
    assert json.loads(raw) == {"api_key": SECRET}  # in Secrets Manager, not a local file
    assert not (Path(env["KITARU_HOME"]) / "secrets.json").exists()

    flow_file = tmp_path / "review_flow.py"
    flow_file.write_bytes(SEED.read_bytes())  # the seed program, unchanged
    started = time.monotonic()
    run = kitaru("run", f"{flow_file}:review_flow", "--input", '{"topic": "Durable agents"}',
                 "--detach", env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr
    execution_id = run.stdout.split()[-1].strip() if run.stdout.strip() else ""
    assert execution_id, run.stdout
    waiting = _until_status(execution_id, {"waiting"}, env)
    assert waiting == "waiting"
    resolved = kitaru("executions", "input", execution_id, "--value", "true", env=env)
    assert resolved.returncode == 0, resolved.stderr
    assert _until_status(execution_id, {"completed", "failed", "cancelled"}, env) == "completed"
    from aws_moto import TIMINGS

    TIMINGS["seed flow on aws stack (s)"] = round(time.monotonic() - started, 2)

    calls = [json.loads(line) for line in calls_log.read_text().splitlines()]
    assert len(calls) == 2 and all(c["with_credential"] for c in calls)
    s3: Any = moto.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    blobs = [k for k in keys if k.startswith("kitaru/") and not k.endswith(".kitaru-verify")]
    # inputs and outputs of both checkpoints and the flow's result: several blobs, none local
    assert len(blobs) >= 3, keys
    for key in blobs:
        sha = key.rsplit("/", 1)[-1]
        assert key == f"kitaru/{sha[:2]}/{sha}"
    assert not (Path(env["KITARU_HOME"]) / "artifacts").exists()
    for key in blobs:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert SECRET.encode() not in body


def _until_status(execution_id: str, wanted: set[str], env: dict[str, str]) -> str:
    deadline = time.monotonic() + 90
    status = ""
    while time.monotonic() < deadline:
        shown = kitaru("executions", "show", execution_id, "--output", "json", env=env)
        if shown.returncode == 0:
            status = json.loads(shown.stdout)["items"][0]["status"]
            if status in wanted:
                return status
        time.sleep(0.5)
    return status
