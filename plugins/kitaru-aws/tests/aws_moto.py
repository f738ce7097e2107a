"""moto in server mode for these tests: ``kitaru_aws.smoke``'s ``running_moto`` (what
``kitaru smoke`` starts, on a free port of 127.0.0.1, stopped on exit), the fake credentials,
and the timings printed at the end. A module of its own so tests import it by a name no other
test directory uses (``import conftest`` gets whichever directory's conftest pytest imported
last)."""

from __future__ import annotations

from kitaru_aws.smoke import DEFAULT_REGION as REGION
from kitaru_aws.smoke import MotoServer as Moto
from kitaru_aws.smoke import running_moto

__all__ = ["CREDENTIALS", "REGION", "TIMINGS", "Moto", "running_moto"]

#: wall-clock numbers the tests record, printed at the end of the session
TIMINGS: dict[str, float] = {}
#: moto accepts any credentials; these never leave the machine
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
