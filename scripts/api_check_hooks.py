"""Schemathesis hooks for scripts/api-check.

Two refusals of schema-valid requests are right and cannot be expressed in OpenAPI, so their
"schema-valid request rejected" failures are dropped (the summary counts them as dropped); every other
failure stands:

- a `cursor` the server did not issue: a cursor is opaque and signed, so no generated one is valid
  (400 invalid_cursor);
- `afterDate` not earlier than `beforeDate`: each is valid alone, the pair is not
  (400 invalid_parameter naming beforeDate).
"""

import re
from datetime import datetime, timezone

import schemathesis

REJECTED_POSITIVE_DATA = "ST202"


def _instant(text):
    """The instant a date parameter names (a leap second read as :59), or None when unreadable."""
    text = re.sub(r"(T\d\d:\d\d:)60", r"\g<1>59", text.replace("z", "Z").replace("t", "T").replace(" ", "T", 1))
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _error(response):
    try:
        error = response.json().get("error")
    except Exception:  # not JSON: nothing to excuse
        return None
    return error if isinstance(error, dict) else None


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if getattr(failure, "code", None) != REJECTED_POSITIVE_DATA or response.status_code != 400:
        return True
    error = _error(response)
    if error is None:
        return True
    query = case.query or {}
    if error.get("code") == "invalid_cursor" and "cursor" in query:
        return False
    if error.get("code") == "invalid_parameter" and error.get("parameter") == "beforeDate":
        after, before = _instant(str(query.get("afterDate"))), _instant(str(query.get("beforeDate")))
        if after is not None and before is not None and after >= before:
            return False
    return True
