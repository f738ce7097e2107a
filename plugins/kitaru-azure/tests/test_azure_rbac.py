"""``plugins/kitaru-azure/rbac/``: the custom roles (``az role definition create`` JSON) and the
built-in roles each flavor needs, for the client and for the jobs' managed identity.

Nothing here enforces Azure RBAC (Azurite checks keys only, the fake refuses only what a test
denies), so these tests hold the files to the code: every action a flavor names in its errors
is in the client role, what a job does is in the job role, the files have the shape Azure
takes, and the docs show them. Whether Azure grants exactly these is what they cannot prove."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

PLUGIN = Path(__file__).resolve().parents[1]
RBAC = PLUGIN / "rbac"
DOC = PLUGIN.parents[1] / "docs" / "stacks" / "azure.md"
ACTION = re.compile(r"^Microsoft\.[A-Za-z]+(/[A-Za-z0-9]+)+$")
NAMED = re.compile(r"\b(Microsoft\.(?:Storage|KeyVault|MachineLearningServices)/[A-Za-z0-9/]+)")


def role(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RBAC / name).read_text())
    return data


def granted(name: str) -> set[str]:
    data = role(name)
    return set(data["Actions"]) | set(data["DataActions"])


@pytest.mark.parametrize("name", ["client-role.json", "job-role.json"])
def test_a_role_file_is_what_az_role_definition_create_takes(name: str) -> None:
    data = role(name)
    assert set(data) == {"Name", "IsCustom", "Description", "Actions", "NotActions",
                         "DataActions", "NotDataActions", "AssignableScopes"}  # fmt: skip
    assert data["IsCustom"] is True and data["Name"].startswith("Kitaru")
    for action in [*data["Actions"], *data["DataActions"]]:
        assert ACTION.match(action), action
    assert all("/blobs/" in a or "KeyVault" in a for a in data["DataActions"])


def test_every_action_the_flavors_name_is_in_the_client_role() -> None:
    source = "\n".join(p.read_text() for p in (PLUGIN / "src" / "kitaru_azure").glob("*.py"))
    named = set(NAMED.findall(source))
    named |= {f"{jobs}/{suffix}" for jobs in re.findall(r'JOBS = "([^"]+)"', source)
              for suffix in ("write", "read", "cancel/action")}  # fmt: skip
    named.discard("Microsoft.MachineLearningServices/workspaces/jobs")
    assert "Microsoft.KeyVault/vaults/secrets/getSecret/action" in named
    assert "Microsoft.MachineLearningServices/workspaces/jobs/write" in named
    # recover is named in a hint only; the store itself never recovers
    assert (
        named
        - granted("client-role.json")
        - {"Microsoft.KeyVault/vaults/deletedSecrets/recover/action"}
        == set()
    )


def test_the_job_role_holds_what_a_job_does_and_no_more_than_the_client() -> None:
    job = granted("job-role.json")
    assert {
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",  # the API key, the LLM key
        "Microsoft.MachineLearningServices/workspaces/jobs/write",  # isolated checkpoints
        "Microsoft.MachineLearningServices/workspaces/environments/versions/write",
    } <= job  # fmt: skip
    assert job <= granted("client-role.json")
    assert not any("setSecret" in a or "purge" in a or "ContainerRegistry" in a for a in job)


def test_the_built_in_roles_cover_every_flavor() -> None:
    data = yaml.safe_load((RBAC / "built-in-roles.yaml").read_text())
    assert set(data["client"]) == {"azure_artifact_store", "azure_secret_store", "azureml", "acr"}
    assert set(data["job"]) == {"azure_artifact_store", "azure_secret_store", "azureml"}


def test_the_docs_show_these_files() -> None:
    text = DOC.read_text()
    for name in ("client-role.json", "job-role.json", "built-in-roles.yaml"):
        assert f"plugins/kitaru-azure/rbac/{name}" in text, name
