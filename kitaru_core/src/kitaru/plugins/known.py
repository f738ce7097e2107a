"""Install hints for first-party flavors that are not installed (data only, like fsspec's
``known_implementations``): the core itself depends on none of them. Every distribution named
here is one of this repository's plugins (a test checks): add a flavor when its plugin lands."""

from __future__ import annotations

KNOWN_FLAVORS: dict[str, str] = {
    "s3": "kitaru-aws",
    "aws": "kitaru-aws",
    "sagemaker": "kitaru-aws",
    "ecr": "kitaru-aws",
    "gcs": "kitaru-gcp",
    "gcp": "kitaru-gcp",
    "vertex": "kitaru-gcp",
    "artifact_registry": "kitaru-gcp",
    "azure": "kitaru-azure",
    "azureml": "kitaru-azure",
    "acr": "kitaru-azure",
    "kubernetes": "kitaru-kubernetes",
    "docker": "kitaru-docker",
}

#: artifact-store flavors of the first-party plugins by the URL schemes they serve, for an
#: install hint when no installed flavor declares the scheme (``Flavor.schemes``)
KNOWN_SCHEMES: dict[str, str] = {
    "s3": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
}


def install_hint(flavor: str) -> str | None:
    dist = KNOWN_FLAVORS.get(flavor)
    if dist is None:
        return None
    return f"flavor {flavor!r} is provided by {dist}: pip install {dist}"
