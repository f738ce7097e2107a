"""The Key Vault / AzureML / Entra ID fake these tests start: the product's own
(:mod:`kitaru_azure.smoke.fake`, which ``kitaru smoke`` stands in for a stack's Azure services),
under the name the tests import."""

from kitaru_azure.smoke.fake import (
    CLIENT_ID,
    CLIENT_SECRET,
    MSI_SECRET,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    TENANT,
    WORKSPACE,
    FakeAzure,
    running_fake,
)

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "MSI_SECRET", "RESOURCE_GROUP", "SUBSCRIPTION",
           "TENANT", "WORKSPACE", "FakeAzure", "running_fake"]  # fmt: skip
