"""What a SageMaker training job runs: ``python -m kitaru_aws.job run|resume ID`` (an
execution) or ``checkpoint ID NAME INPUT`` (an isolated checkpoint call).

Reads the Kitaru API key from Secrets Manager (``KITARU_API_KEY_SECRET_ID``, a JSON object;
``KITARU_API_KEY_SECRET_KEY``, default ``api_key``) with the job's role, puts it in
``KITARU_API_KEY`` for this process only, then runs ``python -m kitaru.entrypoint`` with the same
arguments. The key never appears in the job's spec or its environment as SageMaker records it.
"""

from __future__ import annotations

import json
import os
import sys


def load_api_key() -> None:
    secret_id = os.environ.get("KITARU_API_KEY_SECRET_ID")
    if not secret_id or os.environ.get("KITARU_API_KEY"):
        return
    import boto3

    # botocore reads AWS_DEFAULT_REGION only; the orchestrator passes AWS_REGION
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    client = boto3.client("secretsmanager", region_name=region)
    raw = client.get_secret_value(SecretId=secret_id)["SecretString"]
    key = os.environ.get("KITARU_API_KEY_SECRET_KEY") or "api_key"
    os.environ["KITARU_API_KEY"] = str(json.loads(raw)[key])


def main(argv: list[str]) -> int:
    load_api_key()
    from kitaru.entrypoint import main as entrypoint

    return entrypoint(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
