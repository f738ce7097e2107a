"""The ``moto`` stand-in of ``kitaru smoke``: moto in server mode takes the place of S3,
Secrets Manager, ECR and SageMaker for a smoke run of an AWS stack.

:func:`moto` (the starter the plugin's ``kitaru_standins`` hook names) starts ``moto_server``
on a free port of 127.0.0.1, creates the buckets the stack's config names (the artifact store's
path, the SageMaker ``output_path``), and points every component's ``endpoint_url`` at it; the
``ecr`` builder pushes to the smoke run's registry in place of ECR (moto speaks no registry
protocol), logged in there with the token moto's ECR issues, as it would log in to ECR. The
smoke run's process and the jobs get moto's fake credentials, never the CI job's own.

Moto records a SageMaker training job and says it is ``Completed`` at once, without running
anything; it has no API to change that, and it drops the job's ``Environment``. So the
orchestrator's endpoint is :class:`JobStates`, a small proxy in front of moto: it keeps each
``CreateTrainingJob`` request as sent, and answers ``DescribeTrainingJob`` with the job's true
state — ``InProgress`` until its container exited, then ``Completed`` or ``Failed`` with its
exit code and last output line — so an isolated checkpoint's parent waits for the checkpoint's
job as it would on SageMaker. :class:`TrainingJobs` runs each recorded job — its image,
entrypoint, arguments and environment, with the role's (fake) credentials — as a container on
the smoke run's engine, exactly once. ``StopTrainingJob`` moto lacks: cancelling is not
reproduced (see ``limits``).

Used by the plugin's own tests too (``running_moto``): one copy of how moto is started.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kitaru.components.standins import ComponentUse, SmokeContext, StoodIn
from kitaru.errors import ConfigError, one_line
from kitaru.testing.services import free_port, stop_process, wait_until_serving

INSTALL_HINT = "pip install 'kitaru-aws[smoke]'"
#: the region moto's resources are made in when the stack names none
DEFAULT_REGION = "us-east-1"
#: moto accepts any keys: these are what the smoke run and its jobs use (never real ones)
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
#: where SageMaker writes a job's output; the runner copies each job's output there
LOG_GROUP = "/aws/sagemaker/TrainingJobs"

# -- moto in server mode ---------------------------------------------------------------------


@dataclass(frozen=True)
class MotoServer:
    """A running ``moto_server``: its endpoint and how long it took to start."""

    endpoint_url: str
    start_seconds: float

    def reset(self) -> None:
        """Forget every resource (``POST /moto-api/reset``)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def client(self, service: str, region: str = DEFAULT_REGION) -> Any:
        """A boto3 client of this server with the fake keys (whatever this process's
        environment holds: a CI job's real credentials never reach moto)."""
        import boto3

        session = boto3.session.Session(
            region_name=region, aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )  # fmt: skip
        return session.client(service, endpoint_url=self.endpoint_url)


def moto_server_argv(port: int) -> list[str]:
    """``python -m moto.server`` of this interpreter (no PATH lookup), or a ConfigError with
    the install hint when moto's server extra is missing."""
    missing = [m for m in ("moto", "flask", "flask_cors") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"the moto stand-in needs moto's server ({', '.join(missing)} not "
                          "installed)", hint=INSTALL_HINT)  # fmt: skip
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


@contextlib.contextmanager
def running_moto(log: Path, *, timeout: float = 60) -> Iterator[MotoServer]:
    """``moto_server`` on a free port of 127.0.0.1, ready (``GET /moto-api/`` answers), then
    stopped (also on error). Its output goes to ``log``."""
    argv = moto_server_argv(free_port())
    started = time.monotonic()
    # moto must not see the caller's AWS settings (a profile, an endpoint pointing elsewhere)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    endpoint = f"http://127.0.0.1:{argv[-1]}"
    try:
        if not wait_until_serving(f"{endpoint}/moto-api/", proc, timeout, interval=0.1):
            tail = one_line(log.read_text(errors="replace")[-600:], 300)
            why = f"exited ({proc.returncode})" if proc.poll() is not None else f"not ready after {timeout:g} s"  # fmt: skip
            raise ConfigError(f"moto_server {why}: {tail}", hint=INSTALL_HINT)
        yield MotoServer(endpoint, time.monotonic() - started)
    finally:
        stop_process(proc)


# -- names AWS would refuse --------------------------------------------------------------------

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: str) -> str | None:
    """Why S3 would refuse ``name`` as a general-purpose bucket name (None: it would not).
    moto checks only the length, so the stand-in checks AWS's rules itself."""
    if not _BUCKET.match(name):
        return ("3 to 63 lowercase letters, digits, dots and hyphens, beginning and ending with "
                "a letter or digit")  # fmt: skip
    if ".." in name:
        return "no two adjacent dots"
    if _IP.match(name):
        return "not formatted as an IP address"
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"the prefix {prefix!r} is reserved"
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"the suffix {suffix!r} is reserved"
    return None


#: the config keys holding an ``s3://`` URL whose bucket must exist, per (type, flavor)
S3_URLS = {("artifact_store", "s3"): "path", ("orchestrator", "sagemaker"): "output_path"}


def bucket_of(use: ComponentUse, key: str) -> str:
    """The bucket of the ``s3://`` URL in config ``key`` (a one-line ConfigError naming the
    component when it is not one)."""
    url = str(use.config.get(key) or "")
    if not url.startswith("s3://") or not url[5:].strip("/"):
        raise ConfigError(f"{use.type} ({use.flavor}): {key} {url!r} is not an s3:// URL",
                          hint="write s3://bucket/prefix")  # fmt: skip
    return url[5:].split("/", 1)[0]


def check_buckets(components: list[ComponentUse]) -> None:
    """A one-line ConfigError naming every component whose bucket S3 would refuse (checked
    before anything starts: the artifact store and the orchestrator's output often share one)."""
    users: dict[str, list[str]] = {}
    for use in sorted(components, key=lambda u: u.type):  # artifact_store first
        key = S3_URLS.get((use.type, use.flavor))
        if key is not None:
            users.setdefault(bucket_of(use, key), []).append(
                f"{use.type} ({use.flavor}) {key} {use.config.get(key)}"
            )
    for name, where in users.items():
        problem = bucket_name_problem(name)
        if problem:
            raise ConfigError(f"S3 would refuse bucket {name!r} of {' and '.join(where)}: {problem}",
                              hint="fix the bucket name in the stack (S3 bucket naming rules)")  # fmt: skip


# -- SageMaker's training jobs, run -----------------------------------------------------------


class TrainingJobs:
    """The smoke run's :class:`~kitaru.components.standins.UnitRunner` for SageMaker: each poll
    lists moto's training jobs and starts, in the engine, every one it has not started yet —
    its ``TrainingImage`` with ``ContainerEntrypoint`` / ``ContainerArguments`` and its
    ``Environment``, plus what SageMaker would add (the role's credentials, here moto's fake
    ones, the region, ``TRAINING_JOB_NAME``). Once a job's container exited, its output goes
    to CloudWatch Logs (moto) where the orchestrator's ``unit_logs`` reads it. A job created at
    moto directly, not through :class:`JobStates`, runs without its ``Environment`` (moto
    drops it)."""

    kind = "SageMaker training job"
    #: seconds :meth:`summary` waits for containers still exiting
    SETTLE = 15.0

    def __init__(self, moto: MotoServer, region: str, docker_host: str | None,
                 environment: dict[str, str] | None = None) -> None:  # fmt: skip
        from kitaru_docker.smoke import ContainerUnits

        self.moto = moto
        self.region = region
        self.units = ContainerUnits(docker_host)
        #: added to every job's environment (the endpoint its AWS calls go to)
        self.environment = dict(environment or {})
        self._sagemaker = moto.client("sagemaker", region)
        self._logs = moto.client("logs", region)
        self._logged: set[str] = set()
        self._lock = threading.Lock()
        #: CreateTrainingJob requests as sent (by :class:`JobStates`): moto drops Environment
        self.requests: dict[str, dict[str, Any]] = {}

    def _job_names(self) -> list[str]:
        names: list[tuple[Any, str]] = []
        ask: dict[str, Any] = {"MaxResults": 100, "SortBy": "CreationTime", "SortOrder": "Ascending"}  # fmt: skip
        while True:
            page = self._sagemaker.list_training_jobs(**ask)
            names += [(j.get("CreationTime"), j["TrainingJobName"])
                      for j in page.get("TrainingJobSummaries", [])]  # fmt: skip
            if not page.get("NextToken"):
                return [name for _, name in names]
            ask["NextToken"] = page["NextToken"]

    def poll(self) -> None:
        with self._lock:  # one poll at a time: each job is started once
            for name in self._job_names():
                if not self.units.seen(name):
                    described = self._sagemaker.describe_training_job(TrainingJobName=name)
                    self._start({**described, **self.requests.get(name, {})})
            self._copy_output()

    def record(self, request: dict[str, Any]) -> str | None:
        """Keep a ``CreateTrainingJob`` request (called by the proxy before moto sees it, so
        no poll finds the job without it); its name if it is new."""
        name = str(request.get("TrainingJobName") or "")
        if not name or name in self.requests:  # a second create of a name: moto refuses it
            return None
        self.requests[name] = request
        return name

    def forget(self, name: str) -> None:
        """A recorded request moto refused."""
        self.requests.pop(name, None)

    def _start(self, job: dict[str, Any]) -> None:
        algorithm = job["AlgorithmSpecification"]
        arguments = list(algorithm.get("ContainerArguments") or [])
        tags = {t.get("Key"): t.get("Value") for t in job.get("Tags") or []}
        environment = {
            **(job.get("Environment") or {}), **self.environment, **CREDENTIALS,
            "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region,
            "TRAINING_JOB_NAME": job["TrainingJobName"], "TRAINING_JOB_ARN": job.get("TrainingJobArn", ""),
        }  # fmt: skip
        role = tags.get("kitaru:role") or (arguments[0] if arguments else "job")
        self.units.start(
            job["TrainingJobName"], role=str(role),
            image=algorithm["TrainingImage"], entrypoint=algorithm.get("ContainerEntrypoint"),
            command=arguments, environment=environment,
        )  # fmt: skip

    def _copy_output(self) -> None:
        """A job's output into its log stream, as SageMaker's agent does (once it ended)."""
        for name, unit in list(self.units.units.items()):
            if not unit.ended or name in self._logged:
                continue
            self._logged.add(name)
            lines = [x for x in unit.output.splitlines() if x.strip()] or ["(no output)"]
            stream = f"{name}/algo-1-{int(unit.started)}"
            with contextlib.suppress(Exception):  # logs are for the report: best effort
                with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
                    self._logs.create_log_group(logGroupName=LOG_GROUP)
                self._logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
                now = int(time.time() * 1000)
                self._logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                                          logEvents=[{"timestamp": now, "message": x}
                                                     for x in lines[-5000:]])  # fmt: skip

    def state(self, name: str) -> tuple[str, str | None]:
        """The job's SageMaker status as its container says: ``InProgress`` until it exited,
        then ``Completed`` or ``Failed`` (with a reason)."""
        unit = self.units.units.get(name)
        if unit is None or not unit.ended:
            return "InProgress", None
        if unit.error is not None:
            return "Failed", f"ClientError: the image could not be run: {unit.error}"
        if unit.exit_code:
            last = [x.strip() for x in unit.output.splitlines() if x.strip()]
            tail = f" ({last[-1]})" if last else ""
            return "Failed", f"AlgorithmError: exit code {unit.exit_code}{tail}"[:1024]
        return "Completed", None

    def problems(self) -> list[str]:
        return [f"{self.kind}: {line}" for line in self.units.problems()]

    def summary(self) -> list[str]:
        """Each job's line; asked as the execution ends, so a job whose container is still
        exiting (the one that completed the flow) gets ``SETTLE`` seconds to report its exit
        code rather than "still running"."""
        deadline = time.monotonic() + self.SETTLE
        while time.monotonic() < deadline and not all(u.ended for u in list(self.units.units.values())):  # fmt: skip
            time.sleep(0.1)
        with self._lock:
            self._copy_output()
        return self.units.summary(self.kind)

    def busy(self) -> bool:
        return self.units.busy()

    def close(self) -> None:
        self.units.close()


class JobStates(ThreadingHTTPServer):
    """A proxy in front of moto, the SageMaker orchestrator's endpoint in a smoke run: every
    request goes to moto unchanged; a ``CreateTrainingJob`` request moto accepted is kept for
    the runner (:meth:`TrainingJobs.record`), and the answers of ``DescribeTrainingJob`` (and
    the statuses of ``ListTrainingJobs``) carry the job's state from :meth:`TrainingJobs.state`
    in place of moto's constant ``Completed``."""

    daemon_threads = True

    def __init__(self, moto: MotoServer, jobs: TrainingJobs) -> None:
        self.moto = urlparse(moto.endpoint_url)
        self.jobs = jobs
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.endpoint_url = f"http://127.0.0.1:{self.server_address[1]}"
        self._thread = threading.Thread(target=self.serve_forever, name="moto-job-states",
                                        kwargs={"poll_interval": 0.2}, daemon=True)  # fmt: skip

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def rewrite(self, target: str, body: bytes) -> bytes:
        if target not in ("SageMaker.DescribeTrainingJob", "SageMaker.ListTrainingJobs"):
            return body
        data = json.loads(body)
        jobs = data.get("TrainingJobSummaries") if "TrainingJobSummaries" in data else [data]
        for job in jobs:
            status, reason = self.jobs.state(str(job.get("TrainingJobName")))
            job["TrainingJobStatus"] = status
            if "SecondaryStatus" in job:
                job["SecondaryStatus"] = {"InProgress": "Training"}.get(status, status)
            if reason:
                job["FailureReason"] = reason
            if status == "InProgress":
                job.pop("TrainingEndTime", None)
        return json.dumps(data).encode()


class _ProxyHandler(BaseHTTPRequestHandler):
    server: JobStates
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        upstream = self.server.moto
        conn = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port, timeout=120)  # fmt: skip
        target = self.headers.get("X-Amz-Target", "")
        created = None
        if target == "SageMaker.CreateTrainingJob" and body:
            created = self.server.jobs.record(json.loads(body))
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                status, data, answered = answer.status, answer.read(), answer.getheaders()
            except OSError as exc:  # moto went away: a gateway error botocore retries
                status, answered = 502, [("Content-Type", "text/plain")]
                data = f"moto unreachable: {one_line(exc, 200)}".encode()
            if status == 200:
                data = self.server.rewrite(target, data)
            elif created:
                self.server.jobs.forget(created)
            self.send_response(status)
            for key, value in answered:
                if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):  # fmt: skip
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            conn.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

    def log_message(self, format: str, *args: Any) -> None:
        pass  # moto's own log has every request


# -- the starter ---------------------------------------------------------------------------------


def stack_region(components: list[ComponentUse]) -> str:
    """The region the stack names (its first component's that has one; an ECR registry host's),
    else the environment's, else us-east-1: moto keeps each region's resources apart."""
    for use in components:
        if use.config.get("region"):
            return str(use.config["region"])
    for use in components:
        match = re.match(
            r"^\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.", str(use.config.get("registry") or "")
        )
        if match:
            return match.group(1)
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def _create_bucket(moto: MotoServer, use: ComponentUse, key: str, region: str,
                   made: dict[str, str]) -> str:  # fmt: skip
    """The bucket of ``use.config[key]``, created in moto in the component's region."""
    name = bucket_of(use, key)
    if name not in made:
        where = str(use.config.get("region") or region)
        extra = {} if where == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": where}}  # fmt: skip
        try:
            moto.client("s3", where).create_bucket(Bucket=name, **extra)
        except Exception as exc:
            raise ConfigError(f"{use.type} ({use.flavor}): moto refused bucket {name!r} of {key}: "
                              f"{one_line(exc, 200)}") from None  # fmt: skip
        made[name] = where
    return name


def _registry(ctx: SmokeContext, use: ComponentUse) -> str:
    """The smoke run's registry with the original's path. ``127.0.0.1`` is written
    ``localhost``: an engine's login API (the ECR builder always logs in) skips TLS only for
    that name."""
    if ctx.registry is None:
        raise ConfigError(f"{use.type} ({use.flavor}): the smoke run has no registry to push to "
                          "in place of ECR", hint="kitaru smoke --registry HOST:PORT")  # fmt: skip
    host = ctx.registry
    if host.startswith("127.0.0.1:"):
        host = "localhost:" + host.split(":", 1)[1]
    original = str(use.config.get("registry") or "")
    path = original.split("/", 1)[1] if "/" in original else "kitaru"
    return f"{host}/{path}"


@contextlib.contextmanager
def moto(ctx: SmokeContext, components: list[ComponentUse]) -> Iterator[StoodIn]:
    """Start moto for the ``s3``, ``aws``, ``ecr`` and ``sagemaker`` components of a smoke run
    (see the module doc); everything started is stopped on exit, also on error."""
    from importlib.metadata import version

    check_buckets(components)
    region = stack_region(components)
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(running_moto(ctx.workdir / "moto.log"))
        ctx.say(f"moto {version('moto')} at {server.endpoint_url} "
                f"(started in {server.start_seconds:.1f} s)")  # fmt: skip
        at = f"moto {version('moto')} at {server.endpoint_url}"
        stood = StoodIn(environment={
            "AWS_ENDPOINT_URL": server.endpoint_url, **CREDENTIALS,
            # a CI job's real session token must not ride along with the fake keys
            "AWS_SESSION_TOKEN": "", "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
        })  # fmt: skip
        stood.limits.append(f"region {region}: moto accepts any region; what is available in it "
                            "and its quotas are not checked")  # fmt: skip
        buckets: dict[str, str] = {}
        for use in components:
            endpoint = {"endpoint_url": server.endpoint_url}
            if (use.type, use.flavor) == ("artifact_store", "s3"):
                name = _create_bucket(server, use, "path", region, buckets)
                stood.config[use.type] = endpoint
                stood.notes[use.type] = f"{at} (S3); bucket {name} created"
                stood.limits.append("S3: bucket policies, encryption and object locks are not "
                                    "reproduced (moto enforces no permissions)")  # fmt: skip
            elif (use.type, use.flavor) == ("secret_store", "aws"):
                stood.config[use.type] = endpoint
                prefix = use.config.get("prefix") or "kitaru/"
                stood.notes[use.type] = f"{at} (Secrets Manager); empty, secrets under {prefix}"
            elif (use.type, use.flavor) == ("container_builder", "ecr"):
                registry = _registry(ctx, use)
                stood.config[use.type] = {**endpoint, "registry": registry}
                if ctx.docker_host:
                    stood.config[use.type]["base_url"] = ctx.docker_host
                stood.notes[use.type] = (f"{at} (ECR: login token, repositories); images "
                                         f"pushed to {registry} in place of {use.config.get('registry')}")  # fmt: skip
                stood.limits.append("ECR: moto holds no image bytes (they go to the smoke run's "
                                    "registry); scanning and lifecycle policies are not reproduced")  # fmt: skip
            elif (use.type, use.flavor) == ("orchestrator", "sagemaker"):
                stood.runner = stack.enter_context(_sagemaker(ctx, server, use, region, buckets, stood))  # fmt: skip
            else:  # the smoke run asked for a pair this stand-in does not declare
                raise ConfigError(f"{use.type} ({use.flavor}): the moto stand-in does not serve it")
        yield stood


@contextlib.contextmanager
def _sagemaker(ctx: SmokeContext, server: MotoServer, use: ComponentUse, region: str,
               buckets: dict[str, str], stood: StoodIn) -> Iterator[TrainingJobs]:  # fmt: skip
    """The orchestrator's part: its output bucket, the runner, the job-state proxy."""
    from importlib.metadata import version

    name = _create_bucket(server, use, "output_path", region, buckets)
    jobs = TrainingJobs(server, str(use.config.get("region") or region), ctx.docker_host,
                        {"AWS_ENDPOINT_URL": server.endpoint_url})  # fmt: skip
    proxy = JobStates(server, jobs)
    proxy.start()
    try:
        environment = dict(use.config.get("environment") or {})
        environment["AWS_ENDPOINT_URL"] = server.endpoint_url  # the jobs' own AWS calls
        stood.config[use.type] = {"endpoint_url": proxy.endpoint_url, "environment": environment}
        stood.notes[use.type] = (
            f"moto {version('moto')} at {server.endpoint_url} (SageMaker; job states from their "
            f"containers, via {proxy.endpoint_url}); jobs run on {ctx.docker_host}; output bucket {name}"
        )  # fmt: skip
        instances = {str(use.config.get(k)) for k in ("instance_type", "checkpoint_instance_type")
                     if use.config.get(k)} or {"ml.m5.large"}  # fmt: skip
        stood.limits += [
            f"instance_type {', '.join(sorted(instances))}: the jobs run on this machine's "
            "container engine (no such instance, GPU, volume size or time limit)",
            f"role_arn {use.config.get('role_arn')}: moto enforces no IAM; the jobs run with fake "
            "keys, so missing permissions (and iam:PassRole) are not caught",
            "SageMaker job states: moto says Completed at once (no API changes it); a proxy "
            "answers DescribeTrainingJob from the job's container, ListTrainingJobs filters still "
            "see Completed (Kitaru's server asks only when a lease expires)",
            "StopTrainingJob: moto does not implement it; cancelling an execution is not reproduced",
        ]  # fmt: skip
        if use.config.get("subnets") or use.config.get("security_group_ids"):
            stood.limits.append("VPC config (subnets, security groups): the jobs use the host's network")  # fmt: skip
        yield jobs
    finally:
        try:
            jobs.close()
        finally:
            proxy.stop()
