"""kitaru-aws's ``moto`` stand-in of ``kitaru smoke`` (``kitaru_aws.smoke``), started the way
the smoke run starts it: found through the plugin's ``kitaru_standins`` hook, given a
:class:`SmokeContext` (podman's engine, ``podman.sh``'s registry, a real Kitaru server) and the
components of an AWS stack with production values (an eu-west-1 bucket, an ECR registry, a
role). It must start moto, create the buckets, rewrite endpoints and the registry only, and its
runner must run each SageMaker training job moto records once, as a container, and report it.

Skipped when there is no engine (``podman.sh`` exits 77)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sagemaker_standin import kitaru_server, podman_engine

from kitaru.components.standins import ComponentUse, SmokeContext, StoodIn
from kitaru.errors import ConfigError
from kitaru.testing import build_component

if TYPE_CHECKING:
    from kitaru_aws.smoke import TrainingJobs

    from tests.server.conftest import Server

pytestmark = pytest.mark.timeout(1500)  # a first podman.sh installs the engine: minutes
REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/kitaru-sagemaker-job"
ECR = f"123456789012.dkr.ecr.{REGION}.amazonaws.com/kitaru"
BUSYBOX = "localhost/kitaru/busybox:static"


def components(path: str = "s3://acme-ml-artifacts/kitaru") -> list[ComponentUse]:
    """stacks/aws.yaml's components as a user's CI resolves them (no endpoint: AWS's own)."""
    return [
        ComponentUse("orchestrator", "sagemaker", {
            "image": "", "role_arn": ROLE, "output_path": "s3://acme-sagemaker-out/jobs",
            "instance_type": "ml.g5.2xlarge", "region": REGION, "endpoint_url": "",
            "server_url": "https://kitaru.acme.example", "api_key": "{{secret:kitaru-server.api_key}}",
            "environment": {"AWS_ENDPOINT_URL": "", "ACME_FLAG": "1"}}),
        ComponentUse("container_builder", "ecr", {"registry": ECR, "region": REGION,
                                                  "endpoint_url": "", "platform": "linux/amd64"}),
        ComponentUse("artifact_store", "s3", {"path": path, "region": REGION, "endpoint_url": ""}),
        ComponentUse("secret_store", "aws", {"region": REGION, "prefix": "kitaru/",
                                             "endpoint_url": ""}),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def docker_host() -> str:
    return podman_engine()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with kitaru_server(tmp_path_factory.mktemp("smoke-server") / "home") as srv:
        yield srv


@pytest.fixture
def said() -> list[str]:
    """The starter's progress lines."""
    return []


@pytest.fixture
def ctx(docker_host: str, server: Server, tmp_path: Path, said: list[str]) -> SmokeContext:
    context = SmokeContext(stack="aws", workdir=tmp_path / "smoke", server_url=server.url,
                           docker_host=docker_host, registry="127.0.0.1:5001", say=said.append)  # fmt: skip
    return context


def starter() -> Any:
    """The starter as the smoke run finds it: through the plugin's hook, for each flavor."""
    from kitaru.plugins.manager import plugin_manager

    found = {plugin_manager().standin_for(u.type, u.flavor) for u in components()}
    (standin,) = found  # one stand-in serves all four
    assert standin is not None and standin.name == "moto" and standin.provider == "kitaru-aws"
    return standin.load()


def merged(use: ComponentUse, stood: StoodIn) -> dict[str, Any]:
    """The component's config as the smoke run makes it (a shallow update)."""
    return {**use.config, **stood.config.get(use.type, {})}


def refused(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.HTTPError:
        return False
    except OSError:
        return True
    return False


def test_moto_stands_in_for_the_stack_rewriting_endpoints_and_the_registry_only(
    ctx: SmokeContext, said: list[str], docker_host: str, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import docker

    uses = components()
    started = time.monotonic()
    with starter()(ctx, uses) as stood:
        print(f"moto stand-in up: {time.monotonic() - started:.2f} s")
        endpoint = stood.environment["AWS_ENDPOINT_URL"]
        assert endpoint.startswith("http://127.0.0.1:")
        assert stood.environment == {
            "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "",
            "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
        }  # fmt: skip
        # endpoints, the engine and the registry; nothing else of any component
        assert stood.config["artifact_store"] == {"endpoint_url": endpoint}
        assert stood.config["secret_store"] == {"endpoint_url": endpoint}
        assert stood.config["container_builder"] == {
            "endpoint_url": endpoint, "registry": "localhost:5001/kitaru", "base_url": docker_host}  # fmt: skip
        orchestrator = stood.config["orchestrator"]
        assert set(orchestrator) == {"endpoint_url", "environment"}
        assert orchestrator["endpoint_url"].startswith("http://127.0.0.1:")  # the state proxy
        assert orchestrator["environment"] == {"AWS_ENDPOINT_URL": endpoint, "ACME_FLAG": "1"}
        assert set(stood.notes) == {"orchestrator", "container_builder", "artifact_store",
                                    "secret_store"}  # fmt: skip
        assert stood.notes["artifact_store"].endswith("(S3); bucket acme-ml-artifacts created")
        limits = "\n".join(stood.limits)
        for words in ("instance_type ml.g5.2xlarge", ROLE, f"region {REGION}", "Completed"):
            assert words in limits
        assert stood.runner is not None
        assert (ctx.workdir / "moto.log").exists() and any("moto 5.2.5" in x for x in said)

        # what the smoke run does next: its environment, the merged configs
        for key, value in stood.environment.items():
            monkeypatch.setenv(key, value)
        config = {u.type: merged(u, stood) for u in uses}
        s3: Any = build_component("artifact_store", "s3", name="artifact_store",
                                  **config["artifact_store"]).fs  # fmt: skip
        assert s3.exists("acme-ml-artifacts") and s3.exists("acme-sagemaker-out")
        sagemaker: Any = build_component("orchestrator", "sagemaker", **config["orchestrator"])
        assert sagemaker.client.meta.endpoint_url == orchestrator["endpoint_url"]  # the proxy
        # the buckets are where the stack says (eu-west-1)
        import boto3

        raw = boto3.client("s3", endpoint_url=endpoint)
        assert raw.get_bucket_location(Bucket="acme-ml-artifacts")["LocationConstraint"] == REGION
        # the secret store: up, empty, working (the smoke run sets the stack's secrets next)
        secrets = build_component("secret_store", "aws", name="secret_store",
                                  **config["secret_store"])  # fmt: skip
        assert secrets.list() == []
        secrets.set("kitaru-server", {"api_key": "kit-admin"})
        assert secrets.get("kitaru-server") == {"api_key": "kit-admin"}
        # the builder: an ECR token from moto, a repository, an image in the local registry
        builder = build_component("container_builder", "ecr", name="container_builder",
                                  **config["container_builder"])  # fmt: skip
        engine = docker.DockerClient(base_url=docker_host, timeout=120)
        image = "localhost:5001/kitaru/smoke-probe:1"
        engine.images.get(BUSYBOX).tag("localhost:5001/kitaru/smoke-probe", "1")
        started = time.monotonic()
        pushed = builder.push(image)
        print(f"push through the ECR stand-in: {time.monotonic() - started:.2f} s")
        assert pushed.startswith("localhost:5001/kitaru/smoke-probe@sha256:")
        ecr = boto3.client("ecr", endpoint_url=endpoint)
        assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == [
            "kitaru/smoke-probe"
        ]
        proxy = orchestrator["endpoint_url"]
    assert refused(f"{endpoint}/moto-api/") and refused(proxy)  # stopped on exit


def test_a_bucket_name_s3_would_refuse_fails_in_one_line_naming_the_component(
    ctx: SmokeContext, said: list[str],
) -> None:  # fmt: skip
    with pytest.raises(ConfigError) as failed, starter()(ctx, components("s3://Bad_Bucket/x")):
        pytest.fail("the starter yielded for an invalid bucket")
    message = str(failed.value)
    assert message == (
        "S3 would refuse bucket 'Bad_Bucket' of artifact_store (s3) path s3://Bad_Bucket/x: 3 to "
        "63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit"
    )
    assert said == []  # checked before moto starts
    # the orchestrator's output bucket is checked too, named with its component
    uses = components()
    uses[0].config["output_path"] = "s3://acme..out/jobs"
    with pytest.raises(ConfigError, match=r"^S3 would refuse bucket 'acme..out' of orchestrator "
                       r"\(sagemaker\) output_path s3://acme..out/jobs: no two adjacent dots$"):  # fmt: skip
        starter()(ctx, uses).__enter__()


def test_an_error_after_moto_started_stops_it(ctx: SmokeContext, said: list[str]) -> None:
    ctx.registry = None  # the ecr builder has nowhere to push: found after moto is up
    with pytest.raises(
        ConfigError, match=r"container_builder \(ecr\): the smoke run has no registry"
    ):
        starter()(ctx, components()).__enter__()
    (line,) = [x for x in said if x.startswith("moto ")]
    assert refused(line.split(" at ")[1].split(" ")[0] + "/moto-api/")  # stopped again


def job(name: str, script: str, arguments: list[str], **environment: str) -> dict[str, Any]:
    """``CreateTrainingJob`` arguments as the sagemaker orchestrator sends them, with busybox's
    shell in place of ``python -m kitaru.entrypoint``."""
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": BUSYBOX, "TrainingInputMode": "File",
                                   "ContainerEntrypoint": ["sh", "-c", script],
                                   "ContainerArguments": arguments},
        "RoleArn": ROLE, "OutputDataConfig": {"S3OutputPath": "s3://acme-sagemaker-out/jobs"},
        "ResourceConfig": {"InstanceType": "ml.g5.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600}, "Environment": environment,
    }  # fmt: skip


def wait_for_units(runner: TrainingJobs, count: int, timeout: float = 120) -> None:
    """Poll as the smoke run does until ``count`` units ran to their end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runner.poll()
        units = list(runner.units.units.values())
        if len(units) >= count and all(u.ended for u in units):
            runner.poll()  # copies the output to CloudWatch Logs
            return
        time.sleep(0.2)
    pytest.fail(f"units not done after {timeout} s: {runner.summary()}")


def test_the_runner_runs_each_recorded_training_job_once_in_the_engine_and_reports_it(
    ctx: SmokeContext, server: Server, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from kitaru_aws.smoke import TrainingJobs

    uses = components()
    with starter()(ctx, uses) as stood:
        for key, value in stood.environment.items():
            monkeypatch.setenv(key, value)
        runner = stood.runner
        assert isinstance(runner, TrainingJobs)
        starts: list[str] = []
        real_start = runner.units.start

        def counted(name: str, **kwargs: Any) -> bool:  # the containers really started
            now = real_start(name, **kwargs)
            if now:
                starts.append(name)
            return now

        runner.units.start = counted

        runner.poll()  # nothing recorded yet
        assert runner.summary() == [] and runner.problems() == []
        # jobs created as the orchestrator creates them: through its (rewritten) endpoint
        orchestrator = build_component("orchestrator", "sagemaker",
                                       **merged(uses[0], stood))  # fmt: skip
        client: Any = orchestrator.client
        probe = f"wget -qO- {server.url}/health >/dev/null && echo server reached; env | sort"
        client.create_training_job(**job("kitaru-run-0001", probe, ["run", "exec-1"],
                                         KITARU_EXECUTION="exec-1"))  # fmt: skip
        assert orchestrator.unit_state("kitaru-run-0001").phase == "running"  # not run yet
        client.create_training_job(**job("kitaru-resume-0002", "echo broke >&2; exit 3",
                                         ["resume", "exec-1"]))  # fmt: skip
        started = time.monotonic()
        wait_for_units(runner, 2)
        print(f"two training jobs in podman: {time.monotonic() - started:.2f} s")
        for _ in range(3):
            runner.poll()
        assert sorted(starts) == ["kitaru-resume-0002", "kitaru-run-0001"]  # once each

        output = runner.units.output_of("kitaru-run-0001")
        assert "server reached" in output, output
        env = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
        assert env["KITARU_EXECUTION"] == "exec-1"  # the job's Environment
        assert env["AWS_ENDPOINT_URL"] == stood.environment["AWS_ENDPOINT_URL"]
        assert env["AWS_ACCESS_KEY_ID"] == "testing" and env["AWS_REGION"] == REGION
        assert env["TRAINING_JOB_NAME"] == "kitaru-run-0001"

        summary = runner.summary()
        assert len(summary) == 2
        assert any("kitaru-run-0001 (run)" in x and "exit 0" in x for x in summary), summary
        assert any("kitaru-resume-0002 (resume)" in x and "exit 3" in x for x in summary)
        assert runner.problems() == [
            "SageMaker training job: resume unit kitaru-resume-0002 exited 3: broke"
        ]
        # the orchestrator sees each job's true state and output; moto itself says Completed
        assert orchestrator.unit_state("kitaru-run-0001").phase == "succeeded"
        failed = orchestrator.unit_state("kitaru-resume-0002")
        assert failed.phase == "failed" and "exit code 3 (broke)" in str(failed.reason)
        assert [x["line"] for x in orchestrator.unit_logs("kitaru-resume-0002")] == ["broke"]
        import boto3

        moto_sm = boto3.client("sagemaker", endpoint_url=stood.environment["AWS_ENDPOINT_URL"])
        assert moto_sm.describe_training_job(TrainingJobName="kitaru-resume-0002")[
            "TrainingJobStatus"] == "Completed"  # fmt: skip
        assert json.dumps(runner.summary())  # plain strings for the report
        runner.close()


def test_moto_not_installed_is_one_line_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    from kitaru_aws import smoke

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "flask" else real(name, *a))  # fmt: skip
    with pytest.raises(ConfigError) as failed:
        smoke.moto_server_argv(5000)
    assert "flask" in str(failed.value) and failed.value.hint == "pip install 'kitaru-aws[smoke]'"


def test_bucket_names_checked_as_s3_does() -> None:
    from kitaru_aws.smoke import bucket_name_problem

    for good in ("acme-ml-artifacts", "a.b-c", "abc", "x" * 63):
        assert bucket_name_problem(good) is None, good
    for bad in ("Bad_Bucket", "ab", "x" * 64, "-abc", "abc-", "a..b", "192.168.1.1",
                "xn--abc", "abc-s3alias", "UPPER"):  # fmt: skip
        assert bucket_name_problem(bad), bad
