"""Scale-out on the real cluster: deploy/workers.yaml's Deployment, 2 replicas of
``kitaru serve``, every replica straight on one PostgreSQL store (``KITARU_DB_URL`` from the
Secret ``kitaru-db``, as the manifest documents).

Proven here, with a side-effect table every checkpoint body appends to (step, pod):
- API replicas: invocations sent to each replica's API run in that replica; waits answered
  through either replica's API resume; a replica deleted while a checkpoint runs loses nothing:
  once its lease (``KITARU_LEASE_TTL``) runs out the other replica's sweep, or the Deployment's
  replacement pod, resumes the execution, and the checkpoint completed before the kill did not
  run again (the interrupted one ran twice, as documented).
- queue workers (``--queue scale --concurrency 1 --no-api``, as docs/scale.md shows): what this
  process enqueues is taken by both replicas; one deleted mid-checkpoint is finished by the other.

What the stand-in forces on the manifest (and only this is changed by the test):
- ``hostNetwork: true``: no kube-proxy and no cluster DNS, so pods reach PostgreSQL only on
  the host's 127.0.0.1. Both replicas share the node's network, so they cannot both listen on
  8237 (nor declare it as a port: the scheduler refuses a second pod with the same host port);
  each picks a free port at start and the test reads it from the pod's log. The readiness probe
  (on the fixed port) goes with it.
- the image: the runtime image of the deploy tests plus kitaru's ``server`` and ``postgres``
  extras (uvicorn, psycopg: what ``kitaru serve`` on ``KITARU_DB_URL`` needs; it cannot run on
  a Kitaru server's URL instead: ``auth.bootstrap`` calls ``list_principals``, which the remote
  store lacks), and the flow file from a ConfigMap instead of an image built by ``kitaru
  deploy``.
- with hostNetwork every pod has the node's hostname, and ``kitaru serve`` is PID 1 in each:
  a lease owner ``host:1`` looks alive from every pod, so another replica's lease is judged by
  its expiry only (any other PID would be looked up in the reader's own PID namespace).

Not proven: a Service spreading requests (the test sends them round-robin, as a Service would),
cluster DNS, a database off the node, autoscaling.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from k8s_e2e import REGISTRY
from k8s_standin import REPO, TIMINGS, create_namespace, delete_namespace, manifests

if TYPE_CHECKING:
    from k8s_e2e import RuntimeImage

WORKERS = REPO / "plugins" / "kitaru-kubernetes" / "deploy" / "workers.yaml"
#: what `kitaru serve` on KITARU_DB_URL needs beyond the runtime image (uvicorn, psycopg)
EXTRAS = ("server", "postgres")
N = 6  # invocations, round-robin over the 2 replicas
pytestmark = pytest.mark.timeout(1200)

FLOW = """
import os, time
import psycopg
import kitaru
from kitaru import checkpoint, flow

def note(step: str, topic: str) -> int:
    # the side effect: one row per run of a checkpoint body, with the pod that ran it
    with psycopg.connect(os.environ["KITARU_DB_URL"], autocommit=True) as db:
        db.execute("INSERT INTO scale_effects (topic, step, pod) VALUES (%s, %s, %s)",
                   (topic, step, os.environ["POD_NAME"]))
        return db.execute("SELECT count(*) FROM scale_effects WHERE topic = %s AND step = %s",
                          (topic, step)).fetchone()[0]

@checkpoint
def research(topic: str) -> str:
    note("research", topic)
    return f"brief on {topic}"

@checkpoint
def hold(brief: str, topic: str, pause: float) -> str:
    if note("hold", topic) == 1:
        time.sleep(pause)  # first run only: the test deletes this pod meanwhile
    return brief.upper()

@checkpoint
def publish(text: str, topic: str) -> str:
    note("publish", topic)
    return text

@flow
def scale_flow(topic: str, pause: float = 0.0, ask: bool = True) -> str:
    text = hold(research(topic), topic, pause)
    ok = kitaru.wait(name="ship", question="Ship it?", schema=bool) if ask else True
    return publish(text, topic) if ok else "rejected"
"""

#: a free port of the node, then exec: kitaru serve stays PID 1 (see the module's docstring)
COMMAND = (
    "port=$(python3 -c \"import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); "
    'print(s.getsockname()[1])"); exec kitaru serve /app/scale_flow.py:scale_flow '
    '--host 127.0.0.1 --port "$port"'
)


def workers_image(runtime: RuntimeImage, context: Path) -> str:
    """The runtime image plus kitaru's 'server' and 'postgres' extras (uv.lock's pins, wheels
    downloaded once with pip), built once per content and pushed."""
    import docker

    cache = Path.home() / ".cache" / "kitaru"
    uv = cache / "bootstrap" / "bin" / "uv"
    export = subprocess.run(
        [str(uv) if uv.exists() else "uv", "export", "--project", str(REPO), "--package",
         "kitaru", *(f"--extra={e}" for e in EXTRAS), "--frozen", "--no-dev", "--no-hashes",
         "--no-emit-workspace", "--no-header", "--no-annotate"],
        capture_output=True, text=True, timeout=300)  # fmt: skip
    assert export.returncode == 0, export.stderr[-2000:]
    wheels = cache / "serve-wheelhouse" / hashlib.sha256(export.stdout.encode()).hexdigest()[:16]
    if not (wheels / ".complete").exists():
        wheels.mkdir(parents=True, exist_ok=True)
        (wheels / "requirements.txt").write_text(export.stdout)
        arch = subprocess.run(["uname", "-m"], capture_output=True, text=True).stdout.strip()
        platforms = [f"--platform=manylinux2014_{arch}"] + [
            f"--platform=manylinux_2_{v}_{arch}" for v in (17, 24, 27, 28, 31, 34, 35, 36)]  # fmt: skip
        pip = cache / "bootstrap" / "bin" / "pip"
        done = subprocess.run(
            [str(pip) if pip.exists() else "pip", "download", "-q", "--no-deps",
             "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
             "--abi", "cp311", *platforms, "-r", str(wheels / "requirements.txt"),
             "-d", str(wheels)],
            capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        (wheels / ".complete").touch()
    shutil.rmtree(context / "serve", ignore_errors=True)
    shutil.copytree(wheels, context / "serve", ignore=shutil.ignore_patterns(".complete"))
    (context / "Dockerfile").write_text(
        f"FROM {runtime.tag}\nCOPY serve /wheels/serve\n"
        "RUN /opt/kitaru/bin/pip install -q --no-index --no-deps -r "
        "/wheels/serve/requirements.txt --find-links /wheels/serve\n"
    )
    digest = hashlib.sha256(f"{runtime.tag}\n{wheels.name}".encode()).hexdigest()[:16]
    tag = f"{REGISTRY}/kitaru/k8s-workers:{digest}"
    client = docker.DockerClient(base_url=runtime.docker_host, timeout=900)
    if not client.images.list(name=tag):
        client.images.build(path=str(context), tag=tag, rm=True)
    push = subprocess.run(["podman", "push", "--tls-verify=false", tag], capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert push.returncode == 0, push.stderr[-2000:]
    return tag


def deployment(
    namespace: str, image: str, args: list[str] | None = None, mount: str = "/app"
) -> dict[str, Any]:
    """workers.yaml, changed only where the stand-in needs it (see the docstring); ``args``:
    kitaru serve's own (no API: no port to pick), else the shell that picks a port."""
    (found,) = manifests(WORKERS, namespace)
    pod = found["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["kitaru", "serve"]  # what the docs show
    pod["hostNetwork"] = True
    pod["volumes"] = [{"name": "flow", "configMap": {"name": "scale-flow"}}]
    if args is None:
        container.update(command=["sh", "-c", COMMAND], args=[])
    else:
        container["args"] = args
    container.update(image=image, volumeMounts=[{"name": "flow", "mountPath": mount}])
    for key in ("ports", "readinessProbe"):
        container.pop(key)
    container["env"] += [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "KITARU_HOME", "value": "/tmp/kitaru"},
    ]
    # the loaded 2-core node: the manifest's 250m request is kept, no limit
    return found


@pytest.fixture
def pg_store(monkeypatch: pytest.MonkeyPatch, isolated_kitaru_home: Path) -> Iterator[str]:
    """A database of its own, with the side-effect table; this process on it too."""
    from kitaru.store import reset_default_store
    from tests.store.conftest import _connect, create_database, database_url, drop_database

    name = create_database()
    url = database_url(name)
    with _connect(url) as db:
        db.execute("CREATE TABLE scale_effects (id serial PRIMARY KEY, topic text, step text, "
                   "pod text)")  # fmt: skip
    for key in ("KITARU_SERVER_URL", "KITARU_API_KEY", "KITARU_STACK"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("KITARU_DB_URL", url)
    reset_default_store()
    yield url
    reset_default_store()
    drop_database(name)


def http(url: str, method: str, path: str, key: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def answers(url: str) -> bool:
    """The replica's API answers ``/health``."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def until(check: Any, what: str | Callable[[], str], timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, what() if callable(what) else what
        time.sleep(0.3)
    return value


def test_two_serve_replicas_share_the_work_and_a_deleted_one_loses_nothing(
    cluster: Any, runtime: RuntimeImage, pg_store: str, tmp_path: Path
) -> None:
    from kubernetes import client

    from kitaru.server import auth
    from kitaru.store import default_store
    from tests.store.conftest import _connect

    started = time.monotonic()
    image = workers_image(runtime, tmp_path / "image")
    TIMINGS["workers image (s)"] = round(time.monotonic() - started, 1)
    store: Any = default_store()
    auth.create_principal(store, "tester", kind="user", role="admin")
    key = auth.issue_key(store, "tester")[1]  # the replicas then bootstrap no admin of their own

    def effects(topic: str) -> list[tuple[str, str]]:
        with _connect(pg_store) as db:
            return [(r[0], r[1]) for r in db.execute(
                "SELECT step, pod FROM scale_effects WHERE topic = %s ORDER BY id", (topic,))]  # fmt: skip

    namespace = create_namespace(cluster, "kitaru-scale")
    # Any: the client's optional fields are always set on objects read back
    core: Any = client.CoreV1Api(cluster)
    apps: Any = client.AppsV1Api(cluster)
    try:
        core.create_namespaced_secret(namespace, {"metadata": {"name": "kitaru-db"},
                                                  "stringData": {"url": pg_store}})  # fmt: skip
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "scale-flow"},
                                                      "data": {"scale_flow.py": FLOW}})  # fmt: skip
        started = time.monotonic()
        until(lambda: _create(apps, namespace, deployment(namespace, image)), "no deployment")

        def urls() -> dict[str, str]:
            """Running pods that serve: their name -> API URL (from the start line)."""
            found = {}
            for pod in core.list_namespaced_pod(namespace).items:
                if pod.metadata.deletion_timestamp or pod.status.phase != "Running":
                    continue
                try:
                    log = core.read_namespaced_pod_log(pod.metadata.name, namespace)
                except client.exceptions.ApiException:
                    continue
                for line in log.splitlines():
                    if line.startswith("kitaru server ") and " on http://" in line:
                        url = line.split(" on ")[1].split()[0]
                        if answers(url):  # the line comes just before uvicorn listens
                            found[pod.metadata.name] = url
            return found

        def pod_logs() -> str:
            return "\n".join(f"--- {p.metadata.name}\n" + core.read_namespaced_pod_log(
                p.metadata.name, namespace, tail_lines=30) for p in core.list_namespaced_pod(
                namespace).items if p.status.phase != "Pending")  # fmt: skip

        def reach(eid: str, status: str, timeout: float = 180) -> None:
            until(lambda: store.get_execution(eid).status == status,
                  lambda: f"{eid} never {status}: {store.get_execution(eid).status}\n"
                  f"{pod_logs()}", timeout)  # fmt: skip

        serving = until(lambda: (u := urls()) and len(u) == 2 and u, pod_logs, timeout=300)
        TIMINGS["2 replicas serving (s)"] = round(time.monotonic() - started, 1)
        pods = sorted(serving)

        # -- N invocations round-robin over the replicas, then their waits answered ------------
        started = time.monotonic()
        ids = {}
        for i in range(N):
            pod = pods[i % 2]
            answer = http(serving[pod], "POST", "/api/v1/deployments/scale_flow/invoke", key,
                          {"inputs": {"topic": f"t{i}"}})  # fmt: skip
            ids[f"t{i}"] = (answer["id"], pod)
        for status in ("waiting", "completed"):
            for eid, _ in ids.values():
                reach(eid, status)
            if status == "waiting":
                for i, (eid, _) in enumerate(ids.values()):
                    # answered through the other replica than the one that ran it
                    http(serving[pods[(i + 1) % 2]], "POST", f"/api/v1/executions/{eid}/input",
                         key, {"value": True})  # fmt: skip
        spread = {}
        for topic in ids:
            steps = effects(topic)
            assert [s for s, _ in steps] == ["research", "hold", "publish"], steps
            # each step once, in a replica. Normally the invocation runs where it was sent and
            # the resume where the input was given (or where the wait was held warm); on a
            # starved machine the other replica may take an execution whose lease ran out
            # before its first step (seen once on CI): still once, never twice
            assert {p for _, p in steps} <= set(pods), steps
            spread[topic] = (steps[0][1], steps[2][1])
        ran = [p for p, _ in spread.values()]
        sent = [pod for _, pod in ids.values()]
        assert set(ran) == set(pods), spread  # both replicas served invocations
        if ran != sent:
            print(f"taken over by the other replica: {spread} (sent to {sent})")
        TIMINGS[f"{N} invocations + waits on 2 replicas (s)"] = round(time.monotonic() - started, 1)
        print(f"run on / resumed on: {spread}")

        # -- a replica deleted while a checkpoint runs ------------------------------------------
        victim, other = pods
        answer = http(serving[victim], "POST", "/api/v1/deployments/scale_flow/invoke", key,
                      {"inputs": {"topic": "killed", "pause": 600}})  # fmt: skip
        eid = answer["id"]
        pk = store.get_execution(eid).pk
        until(lambda: [s for s, _ in effects("killed")] == ["research", "hold"], "hold never ran")
        (research,) = [c for c in store.load_journal(pk).values() if c.name == "research"]
        assert research.status == "completed"
        started = time.monotonic()
        core.delete_namespaced_pod(victim, namespace, grace_period_seconds=1)
        # taken over once the victim's lease ran out (KITARU_LEASE_TTL of the manifest)
        until(lambda: store.get_execution(eid).status == "waiting",
              lambda: f"never recovered: {store.get_execution(eid).status}\n{pod_logs()}",
              timeout=240)  # fmt: skip
        recovered_after = round(time.monotonic() - started, 1)
        steps = effects("killed")
        assert [s for s, _ in steps] == ["research", "hold", "hold"], steps
        rescuer = steps[2][1]
        assert rescuer != victim, steps
        live = until(lambda: (u := urls()) and rescuer in u and u, "the rescuer stopped serving")
        http(live[rescuer], "POST", f"/api/v1/executions/{eid}/input", key, {"value": True})
        until(lambda: store.get_execution(eid).status == "completed", "never completed")
        steps = effects("killed")
        assert [s for s, _ in steps] == ["research", "hold", "hold", "publish"], steps
        (again,) = [c for c in store.load_journal(pk).values() if c.name == "research"]
        assert again == research  # completed once, never run again
        TIMINGS["pod deleted -> recovered (s)"] = recovered_after
        # and the Deployment is back to 2 serving replicas (the victim replaced)
        until(lambda: victim not in (u := urls()) and len(u) == 2, "no replacement pod")
        print(f"victim {victim}; recovered by {rescuer} "
              f"({'the other replica' if rescuer == other else 'the replacement pod'}) "
              f"{recovered_after} s after the delete")  # fmt: skip
    finally:
        delete_namespace(cluster, namespace)
        # its pods may still hold connections: the database is dropped WITH (FORCE)


def _create(apps: Any, namespace: str, body: dict[str, Any]) -> bool:
    from kubernetes import client

    try:
        apps.create_namespaced_deployment(namespace, body)
    except client.exceptions.ApiException as exc:
        # right after its namespace: "No API token found for service account default"
        if exc.status != 500:
            raise
        return False
    return True


def test_queue_workers_on_two_replicas_share_a_queue_and_a_deleted_one_loses_nothing(
    cluster: Any, runtime: RuntimeImage, pg_store: str, tmp_path: Path
) -> None:
    """The same Deployment as queue workers (``--queue scale --concurrency 1 --no-api``, what
    docs/scale.md shows): executions enqueued from this process are taken by both replicas, and
    one deleted mid-checkpoint is recovered by the other's orphan sweep (or its replacement)."""
    from kubernetes import client

    from kitaru import Queue
    from kitaru.cli.run import resolve_flow
    from kitaru.store import default_store
    from tests.store.conftest import _connect

    image = workers_image(runtime, tmp_path / "image")
    store: Any = default_store()
    # the pods mount the flow at the very path this process imports it from: the executions
    # record that source file, and the workers serve it from there
    code = tmp_path / "flows"
    code.mkdir()
    (code / "scale_flow.py").write_text(FLOW)
    flow: Any = resolve_flow(f"{code / 'scale_flow.py'}:scale_flow")

    def effects(topic: str) -> list[tuple[str, str]]:
        with _connect(pg_store) as db:
            return [(r[0], r[1]) for r in db.execute(
                "SELECT step, pod FROM scale_effects WHERE topic = %s ORDER BY id", (topic,))]  # fmt: skip

    namespace = create_namespace(cluster, "kitaru-queue")
    core: Any = client.CoreV1Api(cluster)
    apps: Any = client.AppsV1Api(cluster)

    def logs() -> dict[str, str]:
        found = {}
        for pod in core.list_namespaced_pod(namespace).items:
            if pod.metadata.deletion_timestamp or pod.status.phase != "Running":
                continue
            try:
                found[pod.metadata.name] = core.read_namespaced_pod_log(pod.metadata.name,
                                                                        namespace)  # fmt: skip
            except client.exceptions.ApiException:
                continue
        return found

    def completed(eid: str, timeout: float = 180) -> None:
        until(lambda: store.get_execution(eid).status == "completed",
              lambda: f"{eid}: {store.get_execution(eid).status} {logs()}", timeout)  # fmt: skip

    try:
        core.create_namespaced_secret(namespace, {"metadata": {"name": "kitaru-db"},
                                                  "stringData": {"url": pg_store}})  # fmt: skip
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "scale-flow"},
                                                      "data": {"scale_flow.py": FLOW}})  # fmt: skip
        args = [f"{code / 'scale_flow.py'}:scale_flow", "--queue", "scale", "--concurrency", "1",
                "--no-api"]  # fmt: skip
        started = time.monotonic()
        until(lambda: _create(apps, namespace, deployment(namespace, image, args, str(code))),
              "no deployment")  # fmt: skip
        # both replicas past their start (the flow deployed or found unchanged)
        until(lambda: len([t for t in logs().values() if "scale_flow v" in t]) == 2,
              lambda: str(logs()), timeout=300)  # fmt: skip
        TIMINGS["2 queue workers up (s)"] = round(time.monotonic() - started, 1)

        # -- N enqueued: one at a time per worker (each holds 1.5 s), so both take some ------
        started = time.monotonic()
        queue = Queue("scale")
        handles = {f"q{i}": flow.enqueue(topic=f"q{i}", pause=1.5, ask=False, queue=queue)
                   for i in range(N)}  # fmt: skip
        for h in handles.values():
            completed(h.id)
        taken: dict[str, list[str]] = {}
        for topic in handles:
            steps = effects(topic)
            assert [s for s, _ in steps] == ["research", "hold", "publish"], steps
            assert len({p for _, p in steps}) == 1, steps  # one worker ran it through
            taken.setdefault(steps[0][1], []).append(topic)
        assert len(taken) == 2, taken  # both replicas took from the queue
        TIMINGS[f"{N} queued on 2 workers (s)"] = round(time.monotonic() - started, 1)
        print(f"queue taken by: {taken}")

        # -- a worker deleted mid-checkpoint ------------------------------------------------
        killed = flow.enqueue(topic="qkilled", pause=600, ask=False, queue=queue)
        pk = store.get_execution(killed.id).pk
        until(lambda: [s for s, _ in effects("qkilled")] == ["research", "hold"], "no hold")
        victim = effects("qkilled")[1][1]
        (research,) = [c for c in store.load_journal(pk).values() if c.name == "research"]
        started = time.monotonic()
        core.delete_namespaced_pod(victim, namespace, grace_period_seconds=1)
        completed(killed.id, timeout=240)
        steps = effects("qkilled")
        assert [s for s, _ in steps] == ["research", "hold", "hold", "publish"], steps
        assert steps[2][1] != victim, steps
        (again,) = [c for c in store.load_journal(pk).values() if c.name == "research"]
        assert again == research  # completed once, never run again
        TIMINGS["queue worker deleted -> finished (s)"] = round(time.monotonic() - started, 1)
        print(f"queue: victim {victim}, finished by {steps[2][1]}")
    finally:
        delete_namespace(cluster, namespace)
