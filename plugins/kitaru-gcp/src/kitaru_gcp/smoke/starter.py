"""kitaru-gcp's stand-in for ``kitaru smoke``: :func:`gcp_standins` (declared by the plugin's
``kitaru_standins`` hook, imported only by a smoke run of a stack using these flavors).

- ``artifact_store: gcs`` → the GCS emulator; the bucket of ``path`` is created there (after
  checking that Cloud Storage would accept its name);
- ``secret_store: gcp`` → drongo's Secret Manager, empty;
- ``orchestrator: vertex`` → drongo's CustomJob API, with :class:`VertexJobs` running each job
  in the smoke run's container engine;
- ``container_builder: artifact_registry`` → the same builder pushing to the smoke run's
  registry under the original path, without a token.

Every Google component is pointed at its stand-in with ``endpoint_url`` and ``anonymous: true``
(no credentials: the stand-ins take none, as moto takes fake keys), and gets a ``project`` only
when its config names none (the stand-ins need one, credentials would have given one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from kitaru.components.standins import ComponentUse, SmokeContext, StoodIn
from kitaru.errors import ConfigError
from kitaru_gcp.smoke.services import (
    GCP_ENVIRONMENT,
    INSTALL_HINT,
    bucket_problem,
    running_drongo,
    running_gcs_emulator,
)

#: the project components get when their config names none
DEFAULT_PROJECT = "kitaru-smoke"
#: what no stand-in here reproduces, whatever the stack says
IAM = "IAM (roles, service accounts, permissions) is not enforced by the GCS emulator or drongo"


def _anonymous(use: ComponentUse, endpoint: str | None) -> dict[str, Any]:
    """The config keys pointing ``use`` at a stand-in without credentials."""
    keys: dict[str, Any] = {"anonymous": True, "credentials": None}
    if endpoint is not None:
        keys["endpoint_url"] = endpoint
    if not use.config.get("project"):
        keys["project"] = DEFAULT_PROJECT
    return keys


def _bucket(use: ComponentUse) -> str:
    """The bucket of the artifact store's ``gs://bucket/prefix``, if the cloud would take it."""
    path = str(use.config.get("path") or "")
    scheme, _, rest = path.partition("://")
    bucket = rest.split("/", 1)[0]
    problem = "not a gs:// URL" if scheme not in ("gs", "gcs") else bucket_problem(bucket)
    if problem:
        raise ConfigError(f"artifact store ({use.flavor}): bucket {bucket or path!r} would be "
                          f"refused by Cloud Storage: {problem}",
                          hint="fix `path` of the stack's artifact store (gs://BUCKET/prefix)")  # fmt: skip
    return bucket


@contextlib.contextmanager
def gcp_standins(ctx: SmokeContext, components: list[ComponentUse]) -> Iterator[StoodIn]:
    """Start the stand-ins ``components`` need (see the module doc); stop them on exit."""
    by_type = {use.type: use for use in components}
    store = by_type.get("artifact_store")
    bucket = _bucket(store) if store is not None else None  # before starting anything
    project = next((str(u.config["project"]) for u in components if u.config.get("project")),
                   DEFAULT_PROJECT)  # fmt: skip
    stood = StoodIn(environment=dict(GCP_ENVIRONMENT))
    with contextlib.ExitStack() as stack:
        if store is not None and bucket is not None:
            gcs = stack.enter_context(running_gcs_emulator(ctx.workdir / "gcs.log", project))
            ctx.say(f"GCS emulator at {gcs.endpoint_url} ({gcs.start_seconds:.1f} s)")
            try:
                gcs.create_bucket(bucket)
            except Exception as exc:
                raise ConfigError(f"artifact store ({store.flavor}): the GCS emulator refused "
                                  f"bucket {bucket!r}: {exc}", hint="fix `path`") from None  # fmt: skip
            stood.config["artifact_store"] = _anonymous(store, gcs.endpoint_url)
            stood.notes["artifact_store"] = (f"GCS emulator at {gcs.endpoint_url}; bucket "
                                             f"{bucket} created")  # fmt: skip
            stood.limits.append("artifact store: bucket location, storage class and retention "
                                "are not reproduced (the emulator keeps objects in memory)")  # fmt: skip
        secrets, orchestrator = by_type.get("secret_store"), by_type.get("orchestrator")
        if secrets is not None or orchestrator is not None:
            drongo = stack.enter_context(running_drongo(ctx.workdir / "drongo.log", project))
            ctx.say(f"drongo at {drongo.endpoint_url} ({drongo.start_seconds:.1f} s)")
            if secrets is not None:
                stood.config["secret_store"] = _anonymous(secrets, drongo.endpoint_url)
                stood.notes["secret_store"] = f"drongo's Secret Manager at {drongo.endpoint_url}"
            if orchestrator is not None:
                stood.runner = stack.enter_context(_vertex(ctx, orchestrator, drongo, stood))
        builder = by_type.get("container_builder")
        if builder is not None:
            _registry(ctx, builder, stood)
        stood.limits.append(IAM)
        yield stood


@contextlib.contextmanager
def _vertex(ctx: SmokeContext, use: ComponentUse, drongo: Any, stood: StoodIn) -> Iterator[Any]:
    """drongo's CustomJobs, run in the engine by :class:`VertexJobs`."""
    try:
        from kitaru_docker.smoke import ContainerUnits
    except ImportError:
        raise ConfigError("the vertex stand-in runs jobs with kitaru-docker, which is not "
                          "installed", hint=INSTALL_HINT) from None  # fmt: skip
    from kitaru_gcp.smoke.vertex_jobs import VertexJobs, in_engine

    c = use.config
    units = ContainerUnits(ctx.docker_host)
    location = str(c.get("location") or "us-central1")
    project = str(c.get("project") or DEFAULT_PROJECT)
    stood.config["orchestrator"] = _anonymous(use, drongo.endpoint_url)
    stood.notes["orchestrator"] = (f"drongo's Vertex AI at {drongo.endpoint_url}; each "
                                   f"CustomJob runs in the engine at {ctx.docker_host}")  # fmt: skip
    machine = c.get("machine_type") or "n1-standard-4"
    stood.limits.append(f"orchestrator: machine_type {machine}"
                        + (f" / {c['checkpoint_machine_type']}" if c.get("checkpoint_machine_type") else "")
                        + ": jobs run on this machine's CPU and memory")  # fmt: skip
    if c.get("accelerator_type"):
        stood.limits.append(f"orchestrator: accelerator {c['accelerator_type']} x"
                            f"{c.get('accelerator_count')}: no GPU here, not reproduced")  # fmt: skip
    if c.get("service_account"):
        stood.limits.append(f"orchestrator: service account {c['service_account']}: jobs run "
                            "with no identity (anonymous to the stand-ins)")  # fmt: skip
    if c.get("network"):
        stood.limits.append(f"orchestrator: VPC peering ({c['network']}): host network here")
    stood.limits.append(f"orchestrator: region {location}: not reproduced (one local engine)")
    runner = VertexJobs(drongo, in_engine(units), project, location)
    try:
        yield runner
    finally:
        runner.close()
        units.close()


def _registry(ctx: SmokeContext, use: ComponentUse, stood: StoodIn) -> None:
    """The builder pushes to the smoke run's registry, under the original path, tokenless."""
    if ctx.registry is None:
        raise ConfigError("the stack's artifact_registry builder needs a registry to push to",
                          hint="kitaru smoke --registry HOST:PORT (see docs/ci.md)")  # fmt: skip
    c = use.config
    original = str(c.get("registry") or "")
    if not original:  # the flavor's default, from location, project and repository
        where = [c.get(k) or "" for k in ("location", "project", "repository")]
        original = "{}-docker.pkg.dev/{}/{}".format(*where)
    path = original.split("/", 1)[1] if "/" in original else "kitaru"
    registry = f"{ctx.registry}/{path}"
    stood.config["container_builder"] = {"registry": registry, "anonymous": True,
                                         "credentials": None, "base_url": ctx.docker_host}  # fmt: skip
    stood.notes["container_builder"] = (f"the docker builder, pushing to {registry} (in place "
                                        f"of {original}; the first push makes the repository)")  # fmt: skip
    stood.limits.append("container builder: Artifact Registry's repository and its "
                        "permissions are not checked (the local registry takes any path)")  # fmt: skip
