"""The IAM policies of ``plugins/kitaru-aws/iam/`` against moto with IAM enforcement on.

Two identities: the client (``client-policy.json``: an IAM user that registers stacks, sets
secrets, builds, runs and deploys flows) and the SageMaker job role (``job-role-policy.json``,
trusted by ``job-role-trust.json``: assumed through STS, as SageMaker does). Each test proves
that the real flavors work under the policy, and that without any one of its actions some
operation fails with AccessDenied.

What moto 5.2 enforces (``moto/core/authorization.py``, ``moto/iam/access_control.py``): once
enforcement is on, a request must be signed by a known IAM user's key or an assumed role's
session, and its action (``service:Operation``) allowed by that identity's policies (Allow,
explicit Deny, NotAction). It does not enforce:

- ``Resource``, except for S3 (the bucket, or ``bucket/key``): every other service is asked
  about resource ``*``, which an ARN pattern never matches. The test widens non-S3 statements
  to ``*`` and checks the ARNs the flavors used against the original patterns itself;
- ``Condition``: only ``StringEquals`` on values the request carries (``sts:ExternalId``) is
  evaluated, so ``s3:prefix`` and ``iam:PassedToService`` are ignored;
- permissions an operation implies: ``iam:PassRole`` and ``sagemaker:AddTags`` for
  CreateTrainingJob with a role and tags, ``secretsmanager:TagResource`` for CreateSecret with
  tags. Dropping those is asserted to go unnoticed (:data:`NOT_ENFORCED`), so a moto that starts
  checking them fails here.

The server is this module's own (enforcement would break every other test): setup runs in
an unchecked window (``POST /moto-api/reset-auth``), then every request is checked.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import re
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kitaru.errors import ConfigError
from kitaru.testing import SecretsThrough, build_component, run_on

if TYPE_CHECKING:
    from aws_moto import Moto

IAM = Path(__file__).parents[1] / "iam"
DOCS = Path(__file__).parents[3] / "docs" / "stacks" / "aws.md"
#: the placeholders of the JSON files and the docs; moto's default account is the same
REGION, ACCOUNT, BUCKET, PREFIX = "eu-west-1", "123456789012", "my-team-kitaru", "prod"
ROLE_NAME = "kitaru-sagemaker-job"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/kitaru"
IMAGE = f"{REGISTRY}/flows:abc123"
SEEDED_REPO = "kitaru/seeded"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
API_KEY = "kit_live_IAM_TEST_0a1b2c"
#: moto accepts any key while unchecked; never a key of an IAM user
ADMIN = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((IAM / name).read_text()))


# -- the server ---------------------------------------------------------------------------------
def set_auth(moto: Moto, free_requests: float) -> None:
    """moto checks every request after the next ``free_requests`` (``inf``: none)."""
    request = urllib.request.Request(f"{moto.endpoint_url}/moto-api/reset-auth", method="POST",
                                     data=str(free_requests).encode(),
                                     headers={"Content-Type": "text/plain"})  # fmt: skip
    urllib.request.urlopen(request, timeout=10).close()


@contextlib.contextmanager
def unchecked(moto: Moto) -> Iterator[None]:
    """Setup as an administrator would do it: nothing is checked inside."""
    set_auth(moto, float("inf"))
    try:
        yield
    finally:
        set_auth(moto, 0)


@functools.cache
def admin_client(endpoint_url: str, service: str) -> Any:
    import boto3

    session = boto3.session.Session(region_name=REGION, **ADMIN)
    return session.client(service, endpoint_url=endpoint_url)


def admin(moto: Moto, service: str) -> Any:
    """A client with keys no IAM user has: for unchecked windows only (a client costs ~0.2 s
    to make, so they are kept)."""
    return admin_client(moto.endpoint_url, service)


@pytest.fixture(scope="module")
def iam_moto(aws_credentials: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    """This module's server, seeded (bucket, secrets, repository, the job role), enforcing."""
    from aws_moto import TIMINGS, running_moto

    with running_moto(tmp_path_factory.mktemp("moto-iam") / "moto.log") as server:
        TIMINGS["moto (IAM) start (s)"] = round(server.start_seconds, 2)
        with unchecked(server):
            admin(server, "s3").create_bucket(
                Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
            secrets = admin(server, "secretsmanager")
            secrets.create_secret(Name="kitaru/llm", SecretString='{"api_key": "sk-llm"}')
            secrets.create_secret(Name="kitaru/kitaru-server",
                                  SecretString=json.dumps({"api_key": API_KEY}))  # fmt: skip
            admin(server, "ecr").create_repository(repositoryName=SEEDED_REPO)
            admin(server, "iam").create_role(
                RoleName=ROLE_NAME,
                AssumeRolePolicyDocument=(IAM / "job-role-trust.json").read_text(),
            )
        yield server


# -- the identities -----------------------------------------------------------------------------
def for_moto(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy as moto can evaluate it: non-S3 statements on ``*`` (see the docstring)."""
    widened = copy.deepcopy(policy)
    for statement in widened["Statement"]:
        if any(not action.startswith("s3:") for action in actions(statement)):
            statement["Resource"] = "*"
    return widened


def actions(statement: dict[str, Any]) -> list[str]:
    found = statement["Action"]
    return [found] if isinstance(found, str) else list(found)


def resources(statement: dict[str, Any]) -> list[str]:
    found = statement["Resource"]
    return [found] if isinstance(found, str) else list(found)


def without(policy: dict[str, Any], sid: str, action: str) -> dict[str, Any]:
    """``policy`` less one action of statement ``sid`` (less the statement when it was its
    only action)."""
    smaller = copy.deepcopy(policy)
    kept = []
    for statement in smaller["Statement"]:
        if statement["Sid"] == sid:
            statement["Action"] = [a for a in actions(statement) if a != action]
            if not statement["Action"]:
                continue
        kept.append(statement)
    smaller["Statement"] = kept
    return smaller


def client_identity(moto: Moto, policy: dict[str, Any]) -> dict[str, str]:
    """A new IAM user with ``policy`` inline; its access key as environment variables."""
    iam = admin(moto, "iam")
    name = f"kitaru-client-{uuid.uuid4().hex[:8]}"
    with unchecked(moto):
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="kitaru",
                            PolicyDocument=json.dumps(for_moto(policy)))  # fmt: skip
        key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}  # fmt: skip


def job_role_identity(
    moto: Moto, policy: dict[str, Any], name: str | None = None
) -> dict[str, str]:
    """A role trusted by SageMaker with ``policy`` inline, assumed: the session SageMaker gives
    the job's container. ``name``: the documented role (created with the server), else a new
    one."""
    iam = admin(moto, "iam")
    with unchecked(moto):
        if name is None:
            name = f"kitaru-job-{uuid.uuid4().hex[:8]}"
            trust = (IAM / "job-role-trust.json").read_text()
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
        iam.put_role_policy(RoleName=name, PolicyName="kitaru",
                            PolicyDocument=json.dumps(for_moto(policy)))  # fmt: skip
        role_arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
        session = admin(moto, "sts").assume_role(RoleArn=role_arn, RoleSessionName="SageMaker")
    creds = session["Credentials"]
    return {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["SessionToken"]}  # fmt: skip


# -- the flavors, as one identity sees them -----------------------------------------------------
@dataclass
class Kit:
    moto: Moto
    store: Any
    secrets: Any
    builder: Any
    sm: Any
    #: seeded for this test: a blob, a secret to delete, an execution with one training job
    blob_uri: str
    doomed: str
    execution_id: str


def make_kit(
    moto: Moto,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    seeds: frozenset[str] = frozenset({"blob", "doomed", "execution", "joblog"}),
) -> Kit:
    """The flavors under ``env``'s credentials (the default chain, as on AWS), and what the
    operations expect to find (``seeds``), made unchecked."""
    import boto3

    from kitaru.testing.flows import tiny

    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # boto3's default session: a fresh one reads this identity's keys
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint_url)
    where = {"region": REGION, "endpoint_url": moto.endpoint_url}
    store = build_component("artifact_store", "s3", name="s3", path=f"s3://{BUCKET}/{PREFIX}",
                            **where)  # fmt: skip
    secrets = build_component("secret_store", "aws", name="aws", **where)
    builder = build_component("container_builder", "ecr", name="ecr", registry=REGISTRY,
                              base_url="unix:///nonexistent/docker.sock", **where)  # fmt: skip
    # short checkpoint limits: a poll the role may not make is retried until limit + 60 s
    sm = build_component("orchestrator", "sagemaker", name="sm", image=IMAGE, role_arn=ROLE_ARN,
                         secrets=SecretsThrough("aws", **where),
                         output_path=f"s3://{BUCKET}/sagemaker",
                         server_url="https://kitaru.example.com",
                         api_key="{{secret:kitaru-server.api_key}}", poll_interval=0.05,
                         checkpoint_timeout_seconds=1, **where)  # fmt: skip
    data = uuid.uuid4().bytes
    blob_uri = store.uri_for(hashlib.sha256(data).hexdigest())
    doomed = f"doomed-{uuid.uuid4().hex[:8]}"
    execution_id = ""
    with unchecked(moto):
        if "blob" in seeds:
            key = store._path(blob_uri).split("/", 1)[1]
            admin(moto, "s3").put_object(Bucket=BUCKET, Key=key, Body=data)
        if "doomed" in seeds:
            secrets_admin = admin(moto, "secretsmanager")
            secrets_admin.create_secret(Name=f"kitaru/{doomed}", SecretString="{}")
        if "execution" in seeds or "joblog" in seeds:
            # signed with the identity's keys, which moto does not check in here
            execution_id = run_on(sm, tiny, {"x": 1}).id
        if "joblog" in seeds:  # what SageMaker wrote for the execution's job
            job = sm.units_of(default_store().get_execution(execution_id))[-1]["name"]
            logs = admin(moto, "logs")
            if not logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]:
                logs.create_log_group(logGroupName=LOG_GROUP)
            stream = f"{job}/algo-1-1700000000"
            logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
            logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=[
                {"timestamp": int(time.time() * 1000), "message": "job output"}])  # fmt: skip
    return Kit(moto, store, secrets, builder, sm, blob_uri, doomed, execution_id)


# -- the operations -----------------------------------------------------------------------------
def artifact_put(kit: Kit) -> None:
    data = uuid.uuid4().bytes
    uri = kit.store.put(hashlib.sha256(data).hexdigest(), data)
    assert kit.store.get(uri) == data


def artifact_exists(kit: Kit) -> None:
    assert kit.store.exists(kit.blob_uri)
    assert not kit.store.exists(kit.store.uri_for("0" * 64))  # a miss asks ListBucket too


def secret_create(kit: Kit) -> None:
    kit.secrets.set(f"new-{uuid.uuid4().hex[:8]}", {"k": "v"})


def secret_update(kit: Kit) -> None:
    kit.secrets.set(kit.doomed, {"k": "v2"})


def ecr_verify(kit: Kit) -> None:
    """The token, then the engine: there is none here, so getting as far as the engine is
    the pass."""
    try:
        kit.builder.verify()
    except ConfigError as exc:
        if "Docker engine at" not in str(exc):
            raise
    else:
        raise AssertionError("verify passed without a Docker engine")


def ecr_push_replayed(kit: Kit) -> None:
    """What the engine's push does to the registry, replayed as the ECR API calls AWS
    authorizes it as (moto has no registry to push to)."""
    ecr = kit.builder._ecr()
    layer = uuid.uuid4().bytes
    digest = f"sha256:{hashlib.sha256(layer).hexdigest()}"
    repo = {"repositoryName": SEEDED_REPO}
    ecr.batch_check_layer_availability(**repo, layerDigests=[digest])
    upload = ecr.initiate_layer_upload(**repo)["uploadId"]
    ecr.upload_layer_part(**repo, uploadId=upload, partFirstByte=0,
                          partLastByte=len(layer) - 1, layerPartBlob=layer)  # fmt: skip
    ecr.complete_layer_upload(**repo, uploadId=upload, layerDigests=[digest])
    manifest = {"schemaVersion": 2, "config": {"digest": digest, "size": len(layer)},
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "layers": [{"digest": digest, "size": len(layer)}]}  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    ecr.put_image(**repo, imageManifest=json.dumps(manifest), imageTag=tag)
    found = ecr.batch_get_image(**repo, imageIds=[{"imageTag": tag}])
    assert found["images"], found


def authorized(call: Callable[[], object]) -> None:
    """An operation moto authorizes and then does not implement (it answers 500): passes
    unless the answer is AccessDenied."""
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as exc:
        if "AccessDenied" in str(exc):
            raise
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 500, exc


def sagemaker_stop(kit: Kit) -> None:
    """``cancel`` stops InProgress jobs only and moto's are Completed at once: the call itself."""
    job = kit.sm.units_of(default_store().get_execution(kit.execution_id))[0]["name"]
    once = kit.sm._make_client(max_attempts=1)
    authorized(lambda: once.stop_training_job(TrainingJobName=job))


def sagemaker_status_and_cancel(kit: Kit) -> None:
    assert kit.sm.status(kit.execution_id) == "crashed"  # moto's job ended at once: see there
    kit.sm.cancel(kit.execution_id)


def sagemaker_run(kit: Kit) -> None:
    from kitaru.testing.flows import tiny

    run_on(kit.sm, tiny, {"x": 2})


def checkpoint_job(kit: Kit) -> None:
    """An isolated checkpoint's own training job, submitted from inside the flow's job: create,
    poll, then the reply through the artifact store. moto runs nothing, so the job ends
    without a reply; the test then writes the reply the checkpoint's job would, with the same
    role, and reads it back as the flow's job does."""
    from kitaru.components.job_orchestrator import UnitReply, read_reply, reply_key
    from kitaru.store import default_store

    execution = default_store().get_execution(kit.execution_id)
    result = kit.sm.run_checkpoint(execution, "double", ["json", None, "s3://x/y"], kit.store)
    message = (result.error or ("", ""))[1]
    if "completed without writing its reply" not in message:
        raise RuntimeError(message or f"unexpected reply {result}")
    key = reply_key(result.unit["unit"])
    reply = UnitReply(output=("json", "int", kit.blob_uri))
    kit.store.put(key, reply.to_json())
    assert read_reply(kit.store, key, {}) == reply


def job_resolves_api_key(kit: Kit) -> None:
    """What ``kitaru.entrypoint`` does first in a job: the API key reference, resolved through
    the stack's secret store with the job's role."""
    from kitaru.stack.unit_secrets import export_secret_environment

    store = {"flavor": "aws", "config": kit.secrets.config.model_dump()}
    env = {"KITARU_SECRET_ENV": json.dumps({"KITARU_API_KEY": "{{secret:kitaru-server.api_key}}"}),
           "KITARU_SECRET_STORE": json.dumps(store)}  # fmt: skip
    export_secret_environment(env)
    assert env["KITARU_API_KEY"] == API_KEY


def sagemaker_pulls_replayed(kit: Kit) -> None:
    """What SageMaker does with the job role to start the container (ECR pull)."""
    ecr = kit.builder._ecr()
    ecr.get_authorization_token()
    ecr.batch_get_image(repositoryName=SEEDED_REPO, imageIds=[{"imageTag": "latest"}])
    once = kit.builder._ecr()
    authorized(lambda: once.get_download_url_for_layer(
        repositoryName=SEEDED_REPO, layerDigest="sha256:" + "0" * 64))  # fmt: skip


def sagemaker_logs_replayed(kit: Kit) -> None:
    """What SageMaker does with the job role to ship the container's output."""
    import boto3
    from botocore.exceptions import ClientError

    session = boto3.session.Session(region_name=REGION)
    logs = session.client("logs", endpoint_url=kit.moto.endpoint_url)
    try:
        logs.create_log_group(logGroupName=LOG_GROUP)
    except ClientError as exc:
        if "ResourceAlreadyExists" not in str(exc):
            raise
    stream = f"kitaru-run-{uuid.uuid4().hex[:8]}/algo-1-1700000000"
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                        logEvents=[{"timestamp": int(time.time() * 1000),
                                    "message": "hi"}])  # fmt: skip
    logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=stream)


def sagemaker_output_replayed(kit: Kit) -> None:
    """What SageMaker does with the job role when the job ends: the (empty) model output."""
    import boto3

    session = boto3.session.Session(region_name=REGION)
    s3 = session.client("s3", endpoint_url=kit.moto.endpoint_url)
    s3.put_object(Bucket=BUCKET, Key="sagemaker/kitaru-run-x/output/model.tar.gz", Body=b"")


def default_store() -> Any:
    from kitaru.store import default_store

    return default_store()


@dataclass(frozen=True)
class Op:
    name: str
    #: whose actions it needs: s3, secretsmanager, ecr, sagemaker, logs
    area: str
    run: Callable[[Kit], object]
    #: True: a flavor's own call (errors are its one-line messages); False: replayed
    flavor: bool = True
    #: what it expects to find: a "blob", a "doomed" secret, an "execution" with a job
    needs: str = ""


CLIENT_OPS = [
    Op("artifact put", "s3", artifact_put),
    Op("artifact get", "s3", lambda kit: kit.store.get(kit.blob_uri), needs="blob"),
    Op("artifact exists", "s3", artifact_exists, needs="blob"),
    Op("artifact verify", "s3", lambda kit: kit.store.verify()),
    Op("secret create", "secretsmanager", secret_create),
    Op("secret update", "secretsmanager", secret_update, needs="doomed"),
    Op("secret get", "secretsmanager", lambda kit: kit.secrets.get("llm")),
    Op("secret list", "secretsmanager", lambda kit: kit.secrets.list()),
    Op("secret delete", "secretsmanager", lambda kit: kit.secrets.delete(kit.doomed),
       needs="doomed"),
    Op("secret verify", "secretsmanager", lambda kit: kit.secrets.verify()),
    Op("ecr login", "ecr", lambda kit: kit.builder.login()),
    Op("ecr verify", "ecr", ecr_verify),
    Op("ecr ensure repository", "ecr",
       lambda kit: kit.builder.ensure_repository(f"{REGISTRY}/flow-{uuid.uuid4().hex[:6]}:1")),
    Op("ecr push (replayed)", "ecr", ecr_push_replayed, flavor=False),
    Op("sagemaker verify", "sagemaker", lambda kit: kit.sm.verify()),
    Op("sagemaker run", "sagemaker", sagemaker_run),
    Op("sagemaker status/cancel", "sagemaker", sagemaker_status_and_cancel,
       needs="execution"),
    Op("sagemaker stop", "sagemaker", sagemaker_stop, flavor=False, needs="execution"),
    Op("sagemaker job logs", "logs", lambda kit: kit.sm.logs(kit.execution_id) or 1 / 0,
       needs="joblog"),
]  # fmt: skip

JOB_OPS = [
    Op("job resolves the API key", "secretsmanager", job_resolves_api_key),
    Op("artifact put", "s3", artifact_put),
    Op("artifact get", "s3", lambda kit: kit.store.get(kit.blob_uri), needs="blob"),
    Op("artifact exists", "s3", artifact_exists, needs="blob"),
    Op("secret get", "secretsmanager", lambda kit: kit.secrets.get("llm")),
    Op("checkpoint job submit", "sagemaker", checkpoint_job, needs="execution"),
    Op("sagemaker status/cancel", "sagemaker", sagemaker_status_and_cancel, needs="execution"),
    Op("sagemaker stop", "sagemaker", sagemaker_stop, flavor=False, needs="execution"),
    Op("image pull (replayed)", "ecr", sagemaker_pulls_replayed, flavor=False),
    Op("logs (replayed)", "logs", sagemaker_logs_replayed, flavor=False),
    Op("job output (replayed)", "s3", sagemaker_output_replayed, flavor=False),
]

OPS = {"client": CLIENT_OPS, "job": JOB_OPS}
POLICIES = {"client": "client-policy.json", "job": "job-role-policy.json"}


def run_ops(kit: Kit, ops: list[Op]) -> dict[str, str]:
    """Each operation's error, ``Type: message``, by name (absent: it passed)."""
    failed = {}
    for op in ops:
        try:
            op.run(kit)
        except Exception as exc:
            failed[op.name] = f"{type(exc).__name__}: {exc}"
    return failed


# -- what each action is for --------------------------------------------------------------------
#: (identity, statement, action) -> the operation that fails without it
NEEDED_BY = {
    ("client", "KitaruArtifacts", "s3:GetObject"): "artifact get",
    ("client", "KitaruArtifacts", "s3:PutObject"): "artifact put",
    ("client", "KitaruArtifacts", "s3:DeleteObject"): "artifact verify",
    ("client", "KitaruArtifactsList", "s3:ListBucket"): "artifact exists",
    ("client", "KitaruSecrets", "secretsmanager:GetSecretValue"): "secret get",
    ("client", "KitaruSecrets", "secretsmanager:PutSecretValue"): "secret update",
    ("client", "KitaruSecrets", "secretsmanager:CreateSecret"): "secret create",
    ("client", "KitaruSecrets", "secretsmanager:DescribeSecret"): "secret delete",
    ("client", "KitaruSecrets", "secretsmanager:DeleteSecret"): "secret delete",
    ("client", "KitaruSecretsList", "secretsmanager:ListSecrets"): "secret verify",
    ("client", "KitaruImagesLogin", "ecr:GetAuthorizationToken"): "ecr verify",
    ("client", "KitaruImages", "ecr:DescribeRepositories"): "ecr ensure repository",
    ("client", "KitaruImages", "ecr:CreateRepository"): "ecr ensure repository",
    ("client", "KitaruImages", "ecr:BatchCheckLayerAvailability"): "ecr push (replayed)",
    ("client", "KitaruImages", "ecr:InitiateLayerUpload"): "ecr push (replayed)",
    ("client", "KitaruImages", "ecr:UploadLayerPart"): "ecr push (replayed)",
    ("client", "KitaruImages", "ecr:CompleteLayerUpload"): "ecr push (replayed)",
    ("client", "KitaruImages", "ecr:PutImage"): "ecr push (replayed)",
    ("client", "KitaruImages", "ecr:BatchGetImage"): "ecr push (replayed)",
    ("client", "KitaruJobs", "sagemaker:CreateTrainingJob"): "sagemaker run",
    ("client", "KitaruJobs", "sagemaker:DescribeTrainingJob"): "sagemaker status/cancel",
    ("client", "KitaruJobs", "sagemaker:StopTrainingJob"): "sagemaker stop",
    ("client", "KitaruJobsList", "sagemaker:ListTrainingJobs"): "sagemaker verify",
    ("client", "KitaruJobLogs", "logs:DescribeLogStreams"): "sagemaker job logs",
    ("client", "KitaruJobLogs", "logs:GetLogEvents"): "sagemaker job logs",
    ("job", "KitaruArtifacts", "s3:GetObject"): "artifact get",
    ("job", "KitaruArtifacts", "s3:PutObject"): "artifact put",
    ("job", "KitaruArtifactsList", "s3:ListBucket"): "artifact exists",
    ("job", "KitaruJobOutput", "s3:PutObject"): "job output (replayed)",
    ("job", "KitaruSecrets", "secretsmanager:GetSecretValue"): "job resolves the API key",
    ("job", "KitaruImagesLogin", "ecr:GetAuthorizationToken"): "image pull (replayed)",
    ("job", "KitaruImagesPull", "ecr:BatchGetImage"): "image pull (replayed)",
    ("job", "KitaruImagesPull", "ecr:GetDownloadUrlForLayer"): "image pull (replayed)",
    ("job", "KitaruLogs", "logs:CreateLogGroup"): "logs (replayed)",
    ("job", "KitaruLogs", "logs:CreateLogStream"): "logs (replayed)",
    ("job", "KitaruLogs", "logs:PutLogEvents"): "logs (replayed)",
    ("job", "KitaruLogs", "logs:DescribeLogStreams"): "logs (replayed)",
    ("job", "KitaruCheckpointJobs", "sagemaker:CreateTrainingJob"): "checkpoint job submit",
    ("job", "KitaruCheckpointJobs", "sagemaker:DescribeTrainingJob"): "sagemaker status/cancel",
    ("job", "KitaruCheckpointJobs", "sagemaker:StopTrainingJob"): "sagemaker stop",
}
#: actions AWS checks implicitly and moto never does: dropping them goes unnoticed here
NOT_ENFORCED = {
    "secretsmanager:TagResource": "CreateSecret with Tags (kitaru secret set)",
    "sagemaker:AddTags": "CreateTrainingJob with Tags",
    "iam:PassRole": "CreateTrainingJob with RoleArn",
}


def cases() -> list[Any]:
    found = []
    for who, file in POLICIES.items():
        for statement in load(file)["Statement"]:
            for action in actions(statement):
                found.append(pytest.param(who, statement["Sid"], action,
                                          id=f"{who}-{statement['Sid']}-{action}"))  # fmt: skip
    return found


def area_of(action: str) -> str:
    service = action.split(":", 1)[0]
    return "sagemaker" if service == "iam" else service  # PassRole is for CreateTrainingJob


def arn_matches(pattern: str, arn: str) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, arn) is not None


#: actions on no resource (AWS takes ``*`` only): the only ones a statement on ``*`` may have
RESOURCELESS = {"secretsmanager:ListSecrets", "ecr:GetAuthorizationToken",
                "sagemaker:ListTrainingJobs"}  # fmt: skip


def uncovered(policy: dict[str, Any], arns: dict[str, list[str]]) -> list[str]:
    """The ARNs (by service) that no statement granting that service's actions on resources
    names."""
    missing = []
    for service, found in arns.items():
        patterns = [resource for statement in policy["Statement"]
                    if any(a.startswith(f"{service}:") and a not in RESOURCELESS
                           for a in actions(statement))
                    for resource in resources(statement)]  # fmt: skip
        missing += [arn for arn in found if not any(arn_matches(p, arn) for p in patterns)]
    return missing


def arns_in_use(moto: Moto, services: set[str]) -> dict[str, list[str]]:
    """What the flavors created or used on this server, by service, as moto names it (moto
    cannot check these against the policy; :func:`uncovered` does)."""
    found: dict[str, list[str]] = {}
    with unchecked(moto):
        if "secretsmanager" in services:
            secrets = admin(moto, "secretsmanager").list_secrets()["SecretList"]
            ours = [s for s in secrets if s["Name"].startswith("kitaru/")]
            found["secretsmanager"] = [s["ARN"] for s in ours]
        if "sagemaker" in services:
            jobs = admin(moto, "sagemaker").list_training_jobs()["TrainingJobSummaries"]
            found["sagemaker"] = [job["TrainingJobArn"] for job in jobs]
        if "ecr" in services:
            repos = admin(moto, "ecr").describe_repositories()["repositories"]
            found["ecr"] = [repo["repositoryArn"] for repo in repos]
        if "logs" in services:
            logs = admin(moto, "logs")
            streams = logs.describe_log_streams(logGroupName=LOG_GROUP)["logStreams"]
            groups = logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]
            found["logs"] = [g["arn"] for g in groups] + [st["arn"] for st in streams]
        if "iam" in services:
            found["iam"] = [admin(moto, "iam").get_role(RoleName=ROLE_NAME)["Role"]["Arn"]]
    assert all(found.values()), found
    return found


def denied(error: str) -> bool:
    """moto's AccessDenied (in the XML body botocore could not parse for a JSON API), S3's
    ``Access Denied``, or ``Forbidden`` (a 403 to HEAD, which has no body: on AWS too)."""
    return any(word in error for word in ("AccessDenied", "Access Denied", "Forbidden"))


# -- the tests ----------------------------------------------------------------------------------
@pytest.fixture
def home(isolated_kitaru_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("KITARU_SERVER_URL", raising=False)
    monkeypatch.delenv("KITARU_API_KEY", raising=False)
    return isolated_kitaru_home


def test_the_client_policy_allows_everything_the_flavors_do(
    iam_moto: Moto, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = load("client-policy.json")
    kit = make_kit(iam_moto, client_identity(iam_moto, policy), monkeypatch)
    assert run_ops(kit, CLIENT_OPS) == {}
    used = arns_in_use(iam_moto, {"secretsmanager", "sagemaker", "ecr", "logs", "iam"})
    assert uncovered(policy, used) == []
    # S3 resources are enforced: the same user cannot write outside the prefix
    elsewhere = build_component("artifact_store", "s3", name="s3", path=f"s3://{BUCKET}/other",
                                region=REGION, endpoint_url=iam_moto.endpoint_url)  # fmt: skip
    with pytest.raises(ConfigError, match=r"not writable: .*(AccessDenied|Access Denied)") as info:
        elsewhere.verify()
    assert "\n" not in str(info.value)


def test_the_job_role_policy_allows_everything_a_job_does(
    iam_moto: Moto, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = load("job-role-policy.json")
    kit = make_kit(iam_moto, job_role_identity(iam_moto, policy, name=ROLE_NAME), monkeypatch)
    assert run_ops(kit, JOB_OPS) == {}
    used = arns_in_use(iam_moto, {"secretsmanager", "sagemaker", "ecr", "logs", "iam"})
    assert uncovered(policy, used) == []
    # the job role deletes nothing: verify's probe cannot be cleaned up
    with pytest.raises(ConfigError, match=r"AccessDenied|Access Denied"):
        kit.store.verify()


@pytest.mark.parametrize(("who", "sid", "action"), cases())
def test_without_any_one_action_an_operation_fails_with_access_denied(
    iam_moto: Moto, home: Path, monkeypatch: pytest.MonkeyPatch, who: str, sid: str, action: str
) -> None:
    needed_by = NEEDED_BY.get((who, sid, action))
    if action in NOT_ENFORCED:  # every operation that could need it
        ops = [op for op in OPS[who] if op.area == area_of(action)]
    else:
        assert needed_by, f"add {(who, sid, action)} to NEEDED_BY: which operation needs it?"
        ops = [op for op in OPS[who] if op.name == needed_by]
    smaller = without(load(POLICIES[who]), sid, action)
    env = (client_identity if who == "client" else job_role_identity)(iam_moto, smaller)
    kit = make_kit(iam_moto, env, monkeypatch, seeds=frozenset(op.needs for op in ops))
    failed = run_ops(kit, ops)
    if action in NOT_ENFORCED:
        assert failed == {}, f"moto now checks {action}: move it out of NOT_ENFORCED"
        return
    assert needed_by in failed, f"{action} dropped, yet {needed_by!r} passed"
    for name, error in failed.items():
        assert denied(error), (name, error)
    flavor_ops = {op.name for op in ops if op.flavor}
    multiline = {
        name: error for name, error in failed.items() if name in flavor_ops and "\n" in error
    }
    assert not multiline
    if needed_by == "artifact get":  # s3fs's bare "Forbidden", with the store and the object
        assert "artifact store 's3' cannot read s3://" in failed[needed_by], failed


@pytest.mark.parametrize("file", ["client-policy.json", "job-role-policy.json"])
def test_the_resource_patterns_leave_out_what_is_not_kitarus(file: str) -> None:
    """The other half of the ARN check moto cannot do: neighbours are not covered."""
    foreign = {
        "secretsmanager": [f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db-AbCdEf",
                           f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:kitaru/llm-AbCdEf",
                           f"arn:aws:secretsmanager:{REGION}:999999999999:secret:kitaru/x-AbCdEf"],
        "sagemaker": [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/nightly-train",
                      f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/kitaru-run-x"],
        "ecr": [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team-b/app"],
        "logs": [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/x:*"],
        "iam": [f"arn:aws:iam::{ACCOUNT}:role/admin"],
        "s3": [f"arn:aws:s3:::{BUCKET}/other/x", f"arn:aws:s3:::other-bucket/{PREFIX}/x"],
    }  # fmt: skip
    policy = load(file)
    granted = {a.split(":")[0] for st in policy["Statement"] for a in actions(st)}
    for service, arns in foreign.items():
        if service in granted:
            assert uncovered(policy, {service: arns}) == arns, service


@pytest.mark.parametrize("file", ["client-policy.json", "job-role-policy.json"])
def test_only_actions_on_no_resource_get_every_resource(file: str) -> None:
    for statement in load(file)["Statement"]:
        if statement["Resource"] == "*":
            assert set(actions(statement)) <= RESOURCELESS, statement["Sid"]


def test_arn_wildcards() -> None:
    assert arn_matches("arn:aws:s3:::b/p/*", "arn:aws:s3:::b/p/ab/cd")
    assert not arn_matches("arn:aws:s3:::b/p/*", "arn:aws:s3:::b/px")
    assert arn_matches("arn:aws:iam::1:role/a?c", "arn:aws:iam::1:role/abc")
    assert not arn_matches("arn:aws:iam::1:role/a.c", "arn:aws:iam::1:role/abc")


def test_the_docs_show_these_files() -> None:
    """docs/stacks/aws.md's "Minimal IAM policy" shows the three files as they are."""
    text = DOCS.read_text()
    start = text.index("### Minimal IAM policy")
    section = text[start : text.index("\n## ", start)]
    for name in ("client-policy.json", "job-role-policy.json", "job-role-trust.json"):
        body = (IAM / name).read_text().strip()
        assert f"```json\n{body}\n```" in section, f"docs/stacks/aws.md: update {name}"
        assert f"plugins/kitaru-aws/iam/{name}" in section
