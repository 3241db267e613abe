"""Schemathesis hooks for scripts/api-check.

Three refusals of schema-valid requests are right and cannot be expressed in OpenAPI, so their
"schema-valid request rejected" failures are dropped (the summary counts them as dropped); every other
failure stands:

- a `cursor` the server did not issue: a cursor is opaque and signed, so no generated one is valid
  (400 invalid_cursor);
- `afterDate` not earlier than `beforeDate`: each is valid alone, the pair is not
  (400 invalid_parameter naming beforeDate);
- a `q` keyword without a letter or digit (such as `€`): the pattern refuses the keywords made only of
  ASCII, Latin-1 or General Punctuation non-alphanumerics, but cannot name every Unicode letter and
  digit (400 invalid_parameter naming q);
- stats naming two dimensions besides status (groupBy and filters together), or an hourly range
  longer than 7 days: each parameter is valid alone, the combination is not.
"""

import re
from datetime import UTC, datetime, timedelta

import schemathesis

REJECTED_POSITIVE_DATA = "ST202"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Year 0000, which the date pattern admits and datetime cannot hold, is read 400 years (one Gregorian
# cycle, the same calendar) later and moved back.
_CYCLE = timedelta(days=146097)
# Unicode White_Space, which the service splits `q` on (str.split() also splits on U+001C-U+001F).
_WHITESPACE = re.compile(r"[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


def _instant(text):
    """The time from the epoch to the instant a date parameter names (a leap second read as :59), or None
    when unreadable."""
    text = re.sub(r"(T\d\d:\d\d:)60", r"\g<1>59", text.replace("z", "Z").replace("t", "T").replace(" ", "T", 1))
    shift = timedelta(0)
    if text.startswith("0000-"):
        text, shift = "0400" + text[4:], _CYCLE
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    t = t if t.tzinfo else t.replace(tzinfo=UTC)
    return t - _EPOCH - shift


def _keyword_without_alphanumeric(q):
    """Whether some keyword of `q` holds no letter or digit."""
    return any(not any(c.isalnum() for c in word) for word in _WHITESPACE.split(q) if word)


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
    if error.get("code") == "invalid_parameter" and case.path.endswith("/stats"):
        dims = {d for d in ("integration", "workflowId", "triggerType", "userId") if d in query}
        group = str(query.get("groupBy", "status"))
        if group != "status":
            dims.add(group)
        if len(dims) > 1 and "one dimension" in str(error.get("message")):
            return False
        if str(error.get("message", "")).startswith("a stats range covers at most"):
            return False
    if error.get("code") == "invalid_parameter" and error.get("parameter") == "q":
        q = query.get("q")
        if isinstance(q, str) and _keyword_without_alphanumeric(q):
            return False
    return True
