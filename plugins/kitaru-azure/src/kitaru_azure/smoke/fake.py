"""A hand-written FAKE of Azure's REST services: Key Vault secrets, AzureML jobs (and the run
history's details and log files of a job), Entra ID's token endpoints and an AzureML compute's
managed-identity endpoint. No emulator exists for Key Vault or AzureML (see
docs/stacks/azure.md); this is not one either. The plugin's tests use it, and ``kitaru smoke``
stands it in for a stack's Key Vault and AzureML workspace (:mod:`kitaru_azure.smoke`): its
fidelity is the limit of what such a smoke run proves.

It serves exactly the operations ``azure-keyvault-secrets`` and ``azure-ai-ml`` send for the
``azure`` secret store and the ``azureml`` orchestrator, over HTTPS (both SDKs refuse to send a
bearer token over plain HTTP) with a certificate of its own (:attr:`FakeAzure.ca_file`; clients
trust it through ``REQUESTS_CA_BUNDLE``). Request bodies are read, and answers written, with the
SDKs' own generated models (``azure.keyvault.secrets._generated.models``,
``azure.ai.ml._restclient.arm_ml_service.models``), so a field the SDK would not send or parse
fails here too. It keeps state (secrets with versions and soft delete, environment versions,
jobs, their logs), refuses a request without a bearer token it issued (401, with Key Vault's
challenge), and answers the real services' error bodies: ``SecretNotFound`` (404),
``ObjectIsDeletedButRecoverable`` (409), ``ForbiddenByRbac`` (Key Vault's 403) and
``AuthorizationFailed`` (ARM's 403) for the actions listed in :attr:`FakeAzure.denied`, and
AzureML's ``UserError``/``NotFound`` for an unknown job.

A token for Azure Storage (resource ``https://storage.azure.com``) is an unsigned JWT with
Entra ID's claims — issuer, audience, lifetime — which is what Azurite checks with
``--oauth basic``: the ``azure`` artifact store's Entra ID path runs against it. A job's logs are
served as AzureML's run history serves them (the workspace's ``discoveryUrl``, then
``/history/v1.0/.../runs/NAME/details`` listing ``user_logs/std_log.txt`` as a SAS URL).

What it does not do: run jobs (the tests' ``azureml_standin`` and the smoke run's
:class:`~kitaru_azure.smoke.azureml.AzureMLJobs` do, through :meth:`FakeAzure.set_status`, and
hand it their output, :meth:`FakeAzure.set_logs`), sign tokens, evaluate RBAC beyond the deny
list, expire tokens, page listings, or anything the two flavors do not call (a request it does
not know is a 400 naming it, so a new SDK call shows up).
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import re
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kitaru.testing.services import free_port

TENANT = "72f988bf-0000-4000-8000-00000000c0de"
SUBSCRIPTION = "00000000-0000-4000-8000-00000000ab01"
RESOURCE_GROUP = "kitaru-rg"
WORKSPACE = "kitaru-ws"
#: the managed identity's secret header value (AzureML gives each job one: MSI_SECRET)
MSI_SECRET = "fake-msi-secret"
#: the service principal the client-credentials flow accepts
CLIENT_ID, CLIENT_SECRET = "11111111-0000-4000-8000-000000000001", "fake-client-secret"
_JOBS = "Microsoft.MachineLearningServices/workspaces/jobs"
_KV = "Microsoft.KeyVault/vaults"
#: Azure Storage's token audience (the resource a storage client asks a token for)
STORAGE = "https://storage.azure.com"
#: the run history's API (AzureML's data plane: a job's details and log files)
_HISTORY = "/history/v1.0"
TERMINAL = ("Completed", "Failed", "Canceled", "NotResponding")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


class Answer(Exception):
    """An HTTP answer raised from deep in a handler: status, JSON body, headers."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


@dataclass
class FakeAzure:
    """The server's state; ``url`` is its base (``https://127.0.0.1:PORT``)."""

    url: str = ""
    ca_file: Path = Path()
    #: the private key of :attr:`ca_file` (Azurite serves HTTPS with the same pair)
    key_file: Path = Path()
    #: the Entra ID tenant its challenges name
    tenant: str = TENANT
    #: the one AzureML workspace it serves
    subscription: str = SUBSCRIPTION
    resource_group: str = RESOURCE_GROUP
    workspace: str = WORKSPACE
    #: any service principal signs in (a smoke run: the stack's own client id and secret);
    #: otherwise only ``CLIENT_ID``/``CLIENT_SECRET``
    any_client: bool = False
    #: Key Vault secret -> JSON keys a stand-in owns: a later set of that secret keeps them
    #: (a smoke run's Azurite connection string, whatever the run sets)
    pinned: dict[str, dict[str, str]] = field(default_factory=dict)
    #: RBAC actions refused to everyone, e.g. ``Microsoft.KeyVault/vaults/secrets/getSecret/action``
    denied: set[str] = field(default_factory=set)
    #: (method, path, principal) of every request, in order
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> principal
    secrets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> versions
    deleted: dict[str, dict[str, Any]] = field(default_factory=dict)
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> resource
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> JobBase (wire)
    #: job name -> what its command printed (its ``user_logs/std_log.txt``; :meth:`set_logs`)
    logs: dict[str, str] = field(default_factory=dict)
    #: (principal, resource) of every token the managed identity and Entra ID issued, in order
    issued: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- what tests and the stand-in use --------------------------------------------------------
    @property
    def vault_url(self) -> str:
        return self.url

    @property
    def workspace_path(self) -> str:
        """The workspace's ARM resource path (AzureML routes start with it)."""
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/"
                f"providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}")  # fmt: skip

    def put_secret(self, name: str, value: str) -> None:
        """Set Key Vault secret ``name`` (as a client's set would: a new version)."""
        self._keyvault("PUT", f"/secrets/{name}", {}, json.dumps({"value": value}).encode())

    def pin(self, name: str, values: dict[str, str]) -> None:
        """Set Key Vault secret ``name`` to the JSON of ``values`` and keep those keys through
        later sets of it (:attr:`pinned`)."""
        self.pinned[name.lower()] = dict(values)
        self.put_secret(name, json.dumps(values))

    def reset(self) -> None:
        with self.lock:
            for part in (self.secrets, self.deleted, self.environments, self.jobs, self.pinned,
                         self.logs):  # fmt: skip
                part.clear()
            self.denied.clear()
            self.requests.clear()
            self.issued.clear()

    def environment(self) -> dict[str, str]:
        """What AzureML gives a job's process — its compute's managed identity (``MSI_ENDPOINT``,
        ``MSI_SECRET``), here the fake's — plus the fake's CA (a real host needs none)."""
        return {"MSI_ENDPOINT": f"{self.url}/msi/token", "MSI_SECRET": MSI_SECRET,
                "REQUESTS_CA_BUNDLE": str(self.ca_file)}  # fmt: skip

    def set_status(self, name: str, status: str) -> None:
        """What AzureML's scheduler would do: move job ``name`` to ``status``."""
        with self.lock:
            self.jobs[name]["properties"]["status"] = status

    def set_logs(self, name: str, text: str) -> None:
        """What AzureML's runtime would upload: job ``name``'s output, its ``user_logs``."""
        with self.lock:
            self.logs[name] = text

    def job_image(self, job: dict[str, Any]) -> str:
        """The image of a job's (anonymous) environment."""
        env = self.environments[job["properties"]["environmentId"].lower()]
        return str(env["properties"]["image"])

    def issue(self, principal: str, resource: str = "") -> dict[str, Any]:
        """A bearer token for ``principal``; for Azure Storage (``https://storage.azure.com``)
        an unsigned JWT of Entra ID's claims: Azurite's ``--oauth basic`` checks its issuer,
        audience and lifetime, not its signature. Other services get an opaque token (what
        azure-ai-ml does with a JWT's claims is not the fake's business)."""
        token = f"fake-{uuid.uuid4().hex}"
        if resource.rstrip("/") == STORAGE:
            token = _jwt(principal, STORAGE, self.tenant)
        self.tokens[token] = principal
        self.issued.append((principal, resource))
        return {"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                "expires_on": int(time.time()) + 3600}  # fmt: skip

    # -- routing --------------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, Any, dict[str, str]]:  # fmt: skip
        parts = urlsplit(path)
        route, query = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
        try:
            if route == "/msi/token":
                return self._msi(headers, query)
            if found := re.fullmatch(r"/([^/]+)/v2\.0/\.well-known/openid-configuration", route):
                return 200, self._openid(found.group(1)), {}
            if found := re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token", route):
                return self._client_credentials(found.group(1), body)
            if route.startswith(("/secrets", "/deletedsecrets")):
                principal = self._principal(headers, challenge=True)
                self.requests.append((method, route, principal))
                return self._keyvault(method, route, query, body)
            ws = self.workspace_path
            if route == "/discovery":  # the workspace's discoveryUrl: anonymous, as AzureML's
                return 200, self._discovery(), {}
            if found := re.fullmatch(r"/logs/([^/]+)/user_logs/std_log\.txt", route):
                return self._log_file(found.group(1), query)  # a SAS URL: no bearer token
            if route.startswith(_HISTORY + ws + "/"):
                principal = self._principal(headers, challenge=False)
                self.requests.append((method, route, principal))
                return self._run_history(method, route.removeprefix(_HISTORY + ws))
            if route.startswith(ws) or route.startswith("/operationResults/"):
                principal = self._principal(headers, challenge=False)
                self.requests.append((method, route, principal))
                return self._azureml(method, route[len(ws):] if route.startswith(ws) else route,
                                     body)  # fmt: skip
            raise Answer(400, {"error": {"code": "UnsupportedByFake",
                                         "message": f"the fake does not serve {method} {route}"}})  # fmt: skip
        except Answer as answer:
            return answer.status, answer.body, answer.headers

    def _principal(self, headers: Any, challenge: bool) -> str:
        auth = headers.get("Authorization") or ""
        principal = (
            self.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        )
        if principal:
            return principal
        if challenge:  # Key Vault's challenge: the client learns the tenant and the resource
            raise Answer(401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is "
                               "missing a Bearer or PoP token."}},
                         {"WWW-Authenticate": f'Bearer authorization="https://login.microsoftonline.com/{self.tenant}", '
                                              'resource="https://vault.azure.net"'})  # fmt: skip
        code = "InvalidAuthenticationToken" if auth else "AuthenticationFailed"
        raise Answer(401, {"error": {"code": code, "message": "Authentication failed. The "
                           "'Authorization' header is missing or its token is not valid."}},
                     {"WWW-Authenticate": f'Bearer authorization_uri="https://login.windows.net/{self.tenant}", '
                                          'error="invalid_token"'})  # fmt: skip

    # -- Entra ID and the managed identity ------------------------------------------------------
    def _msi(self, headers: Any, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """AzureML compute's managed-identity endpoint (MSI_ENDPOINT, api-version 2017-09-01)."""
        if headers.get("secret") != MSI_SECRET:
            raise Answer(400, {"error": "invalid_request", "error_description": "bad secret"})
        resource = query.get("resource", "")
        token = self.issue(f"msi:{query.get('clientid') or 'system'}", resource)
        return 200, {**token, "resource": resource}, {}

    def _openid(self, tenant: str) -> dict[str, Any]:
        base = f"{self.url}/{tenant}"
        return {"token_endpoint": f"{base}/oauth2/v2.0/token", "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "tenant_region_scope": "WW"}  # fmt: skip

    def _client_credentials(self, tenant: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        known = (form.get("client_id"), form.get("client_secret")) == (CLIENT_ID, CLIENT_SECRET)
        if not known and not (self.any_client and form.get("client_id")):
            raise Answer(401, {"error": "invalid_client", "error_description": "AADSTS7000215: "
                               "Invalid client secret provided.", "error_codes": [7000215]})  # fmt: skip
        scope = form.get("scope", "").split()
        resource = scope[0].removesuffix(".default") if scope else ""
        return 200, self.issue(f"app:{form['client_id']}", resource), {}

    # -- Key Vault ------------------------------------------------------------------------------
    def _deny(self, action: str, scope: str, key_vault: bool) -> None:
        if action not in self.denied:
            return
        if key_vault:
            message = (f"Caller is not authorized to perform action on resource.\r\nIf role "
                       f"assignments, deny assignments or role definitions were changed recently, "
                       f"please observe propagation time.\r\nAction: '{action}'\r\nResource: "
                       f"'{scope}'\r\nAssignment: (not found)\r\n")  # fmt: skip
            raise Answer(403, {"error": {"code": "Forbidden", "message": message,
                                         "innererror": {"code": "ForbiddenByRbac"}}})  # fmt: skip
        raise Answer(403, {"error": {"code": "AuthorizationFailed", "message": (
            f"The client does not have authorization to perform action '{action}' over scope "
            f"'{scope}' or the scope is invalid.")}})  # fmt: skip

    def _keyvault(self, method: str, route: str, query: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:  # fmt: skip
        from azure.keyvault.secrets._generated import models

        segments = [s for s in route.split("/") if s]
        name = segments[1].lower() if len(segments) > 1 else ""  # names are case-insensitive
        missing = Answer(404, {"error": {"code": "SecretNotFound", "message": f"A secret with "
                         f"(name/id) {name} was not found in this key vault. If you recently "
                         "deleted this secret you may be able to recover it using the correct "
                         "recovery command."}})  # fmt: skip
        if segments[0] == "deletedsecrets":
            if name not in self.deleted:
                raise missing
            if method == "GET":
                self._deny(f"{_KV}/deletedSecrets/read", route, True)
                return 200, self.deleted[name], {}
            self._deny(f"{_KV}/deletedSecrets/purge/action", route, True)
            del self.deleted[name]
            return 204, None, {}
        if method == "GET" and not name:
            self._deny(f"{_KV}/secrets/readMetadata/action", route, True)
            items = [models.SecretItem({k: v[-1][k] for k in ("id", "attributes", "tags",
                                        "contentType") if k in v[-1]}) for v in self.secrets.values()]  # fmt: skip
            for item in items:
                item["id"] = item["id"].rsplit("/", 1)[0]  # an item's id names no version
            return 200, {"value": [i.as_dict() for i in items], "nextLink": None}, {}
        if method == "PUT":
            self._deny(f"{_KV}/secrets/setSecret/action", route, True)
            if name in self.deleted:
                raise Answer(409, {"error": {"code": "Conflict", "message": f"Secret {name} is "
                             "currently in a deleted but recoverable state, and its name cannot "
                             "be reused; in this state, the secret can only be recovered or "
                             "purged.", "innererror": {"code": "ObjectIsDeletedButRecoverable"}}})  # fmt: skip
            sent = models.SecretSetParameters(json.loads(body))
            if name in self.pinned:  # a stand-in's keys survive the set (see pin())
                sent.value = json.dumps({**_json_object(sent.value), **self.pinned[name]})
            stamp = int(time.time())
            bundle = models.SecretBundle(
                value=sent.value, id=f"{self.url}/secrets/{name}/{uuid.uuid4().hex}",
                content_type=sent.content_type, tags=sent.tags,
                # the service's read-only attributes: the models' typing offers no keywords for
                # them, their constructor takes them
                attributes=models.SecretAttributes(  # type: ignore[call-overload]
                    enabled=True, created=stamp, updated=stamp,
                    recovery_level="Recoverable+Purgeable"))  # fmt: skip
            self.secrets.setdefault(name, []).append(bundle.as_dict())
            return 200, self.secrets[name][-1], {}
        if name not in self.secrets:
            raise missing
        if method == "GET":
            self._deny(f"{_KV}/secrets/getSecret/action", route, True)
            return 200, self.secrets[name][-1], {}
        self._deny(f"{_KV}/secrets/delete", route, True)
        latest = {k: v for k, v in self.secrets.pop(name)[-1].items() if k != "value"}
        deleted = models.DeletedSecretBundle({**latest, "recoveryId": f"{self.url}/deletedsecrets/{name}",
                                              "deletedDate": int(time.time())})  # fmt: skip
        self.deleted[name] = deleted.as_dict()
        return 200, self.deleted[name], {}

    # -- AzureML --------------------------------------------------------------------------------
    def _azureml(self, method: str, route: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        from azure.ai.ml._restclient.arm_ml_service import models

        if route.startswith("/operationResults/"):  # a cancel's long-running operation: done
            return 200, {"status": "Succeeded"}, {}
        ws = self.workspace_path
        scope, segments = ws + route, route.strip("/").split("/")
        if route == "" and method == "GET":  # the workspace (azure-ai-ml reads discoveryUrl)
            self._deny("Microsoft.MachineLearningServices/workspaces/read", scope, False)
            workspace = models.Workspace({"properties": {"discoveryUrl": f"{self.url}/discovery",
                                          "friendlyName": self.workspace}, "location": "local"})  # fmt: skip
            workspace.update({"id": scope, "name": self.workspace,
                              "type": "Microsoft.MachineLearningServices/workspaces"})  # fmt: skip
            return 200, workspace.as_dict(), {}
        if segments[0] == "environments" and method == "PUT" and len(segments) == 4:
            self._deny("Microsoft.MachineLearningServices/workspaces/environments/versions/write",
                       scope, False)  # fmt: skip
            env = models.EnvironmentVersion(json.loads(body))
            env.update({"id": scope, "name": segments[3], "type": "Microsoft.MachineLearningServices/"
                        "workspaces/environments/versions", "systemData": {"createdAt": _now()}})  # fmt: skip
            self.environments[scope.lower()] = env.as_dict()
            return 201, self.environments[scope.lower()], {}
        if segments[0] != "jobs":
            raise Answer(400, {"error": {"code": "UnsupportedByFake", "message": route}})
        if len(segments) == 1 and method == "GET":
            self._deny(f"{_JOBS}/read", scope, False)
            return 200, {"value": list(self.jobs.values()), "nextLink": None}, {}
        name = segments[1]
        if method == "PUT":
            self._deny(f"{_JOBS}/write", scope, False)
            job = models.JobBase(json.loads(body))
            if not isinstance(job.properties, models.CommandJob):
                raise Answer(400, {"error": {"code": "UserError", "message": "only command jobs"}})
            if job.properties.environment_id.lower() not in self.environments:
                raise Answer(
                    400, {"error": {"code": "UserError", "message": "environment not found"}}
                )
            job.update(
                {"id": scope, "name": name, "type": _JOBS, "systemData": {"createdAt": _now()}}
            )
            job.properties["status"] = "NotStarted"
            job.properties["services"] = {"Studio": {"jobServiceType": "Studio", "endpoint":
                f"https://ml.azure.com/runs/{name}?wsid={ws}&tid={self.tenant}"}}  # fmt: skip
            with self.lock:
                self.jobs[name] = job.as_dict()
            return 201, self.jobs[name], {}
        if name not in self.jobs:
            raise Answer(404, {"error": {"code": "UserError", "message": f"Could not find job "
                               f"with name {name} in workspace {self.workspace}", "details": [],
                               "innerError": {"code": "NotFound"}}})  # fmt: skip
        if method == "GET":
            self._deny(f"{_JOBS}/read", scope, False)
            return 200, self.jobs[name], {}
        self._deny(f"{_JOBS}/cancel/action", scope, False)
        status = self.jobs[name]["properties"]["status"]
        if status in TERMINAL:
            raise Answer(400, {"error": {"code": "UserError", "message": f"Cannot cancel job "
                               f"{name}: it is in the terminal state {status}."}})  # fmt: skip
        self.set_status(name, "CancelRequested")
        location = f"{self.url}/operationResults/{uuid.uuid4().hex}"
        return 202, None, {"Location": location, "Retry-After": "0"}

    # -- AzureML's data plane: discovery, the run history, log files ---------------------------
    def _discovery(self) -> dict[str, str]:
        """The workspace's discovery document: every data-plane API is the fake."""
        return {key: self.url for key in ("api", "catalog", "experimentation", "history",
                                           "modelmanagement", "pipelines")} | {
            "studio": "https://ml.azure.com"}  # fmt: skip

    def _run_history(self, method: str, route: str) -> tuple[int, Any, dict[str, str]]:
        """``GET .../runs/NAME/details``: the job's status and its log files (SAS URLs of the
        workspace's storage in AzureML; here the fake's ``/logs/``), as ``jobs.stream`` reads
        them."""
        from azure.ai.ml._restclient.runhistory import models

        found = re.fullmatch(r"/runs/([^/]+)/details", route)
        if method != "GET" or not found:
            raise Answer(400, {"error": {"code": "UnsupportedByFake", "message": route}})
        name = found.group(1)
        self._deny(f"{_JOBS}/read", self.workspace_path + route, False)
        with self.lock:
            job, logs = self.jobs.get(name), name in self.logs
        if job is None:
            raise Answer(404, {"error": {"code": "UserError", "message": f"Run {name} was not "
                               "found", "innerError": {"code": "NotFound"}}})  # fmt: skip
        files = {"user_logs/std_log.txt": f"{self.url}/logs/{name}/user_logs/std_log.txt?"
                 f"sv=2019-07-07&sr=b&sp=r&sig=fake"} if logs else {}  # fmt: skip
        details = models.RunDetails(run_id=name, status=job["properties"]["status"],
                                    target=job["properties"].get("computeId"), log_files=files)  # fmt: skip
        return 200, details.as_dict(), {}

    def _log_file(self, name: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if not query.get("sig"):  # a blob URL without its SAS: Azure Storage's 404 for a
            raise Answer(404, {"error": {"code": "ResourceNotFound"}})  # private container
        with self.lock:
            text = self.logs.get(name)
        if text is None:
            raise Answer(404, {"error": {"code": "BlobNotFound"}})
        return 200, text, {"Content-Type": "text/plain; charset=utf-8"}


def _jwt(principal: str, audience: str, tenant: str) -> str:
    """An unsigned JWT with the claims of an Entra ID v1 access token (``alg: none``)."""
    import base64

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"aud": audience, "iss": f"https://sts.windows.net/{tenant}/", "iat": now - 60,
              "nbf": now - 60, "exp": now + 3600, "tid": tenant, "oid": str(uuid.uuid5(
              uuid.NAMESPACE_URL, principal)), "sub": principal, "ver": "1.0",
              "jti": uuid.uuid4().hex}  # fmt: skip
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _json_object(value: str | None) -> dict[str, str]:
    try:
        found = json.loads(value or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (its own CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kitaru fake azure")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = folder / "fake-azure-ca.pem", folder / "fake-azure-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                         serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    return cert_file, key_file


@contextlib.contextmanager
def running_fake(folder: Path, **settings: Any) -> Iterator[FakeAzure]:
    """The fake on a free port of 127.0.0.1 (HTTPS), in a thread of this process; ``settings``
    are :class:`FakeAzure` fields (the workspace, ``any_client``)."""
    cert_file, key_file = _certificate(folder)
    port = free_port()
    fake = FakeAzure(url=f"https://127.0.0.1:{port}", ca_file=cert_file, key_file=key_file,
                     **settings)  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, data, headers = fake.handle(self.command, self.path, self.headers, body)
            raw = (b"" if data is None else data.encode() if isinstance(data, str)
                   else json.dumps(data).encode())  # fmt: skip
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests read fake.requests

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
