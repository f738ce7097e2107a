"""``plugins/kitaru-gcp/iam/``: the custom roles (gcloud's role YAML) and predefined roles each
flavor needs, for the client and for the jobs' service account.

No stand-in enforces IAM (neither the GCS emulator nor drongo checks a permission), so these
tests hold the files to the code instead: every permission a flavor names in its errors is in
the client role, what a job does is in the job role, the files are what ``gcloud iam roles
create --file`` takes, and the docs show them. Whether Google grants exactly these is what
they cannot prove."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

PLUGIN = Path(__file__).resolve().parents[1]
IAM = PLUGIN / "iam"
DOC = PLUGIN.parents[1] / "docs" / "stacks" / "gcp.md"
PERMISSION = re.compile(r"^[a-z]+\.[a-zA-Z]+\.[a-zA-Z]+$")
NAMED = re.compile(
    r"\b((?:storage|secretmanager|aiplatform|artifactregistry)\.[a-zA-Z]+\.[a-zA-Z]+)\b"
)


def role(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((IAM / name).read_text())
    return data


def permissions(name: str) -> list[str]:
    return list(role(name)["includedPermissions"])


@pytest.mark.parametrize("name", ["client-role.yaml", "job-role.yaml"])
def test_a_role_file_is_what_gcloud_takes(name: str) -> None:
    data = role(name)
    assert set(data) == {"title", "description", "stage", "includedPermissions"}
    assert data["stage"] == "GA" and data["title"].startswith("Kitaru")
    listed = permissions(name)
    assert all(PERMISSION.match(p) for p in listed), listed
    assert len(set(listed)) == len(listed)


def test_every_permission_the_flavors_name_is_in_the_client_role() -> None:
    source = "\n".join(p.read_text() for p in (PLUGIN / "src" / "kitaru_gcp").glob("*.py"))
    named = {p for p in NAMED.findall(source) if ".googleapis." not in p}  # not hosts
    assert {"aiplatform.customJobs.create", "storage.objects.get",
            "secretmanager.versions.access"} <= named  # fmt: skip
    assert named - set(permissions("client-role.yaml")) == set()


def test_the_job_role_holds_what_a_job_does_and_no_more_than_the_client() -> None:
    job = set(permissions("job-role.yaml"))
    assert {
        "storage.objects.get", "storage.objects.create",  # values and replies
        "secretmanager.versions.access",  # the API key and the LLM key, resolved in the job
        "aiplatform.customJobs.create", "aiplatform.customJobs.get",  # isolated checkpoints
        "aiplatform.customJobs.cancel",
    } <= job  # fmt: skip
    assert job <= set(permissions("client-role.yaml"))
    assert not any(p.startswith(("secretmanager.secrets.", "artifactregistry.")) for p in job)


def test_the_predefined_roles_cover_every_flavor() -> None:
    data = yaml.safe_load((IAM / "predefined-roles.yaml").read_text())
    assert set(data["client"]) == {"gcs", "gcp", "vertex", "artifact_registry"}
    assert set(data["job"]) == {"gcs", "gcp", "vertex"}
    for roles in [*data["client"].values(), *data["job"].values()]:
        assert all(r.startswith("roles/") for r in roles)


def test_the_docs_show_these_files() -> None:
    text = DOC.read_text()
    for name in ("client-role.yaml", "job-role.yaml", "predefined-roles.yaml"):
        assert f"plugins/kitaru-gcp/iam/{name}" in text, name
    for permission in permissions("client-role.yaml"):
        assert permission in text, permission
