#!/usr/bin/env python3
"""Black-box abuse suite: every route tried as an attacker or an unlucky producer would.

Each read route is one row of ROUTES (its path, function and query parameters with their kinds); the
generic attacks (auth, methods, unknown / repeated / empty / malformed / overlong parameters, cursors,
path ids, headers that make no URL) are derived from the row, so a new route gets them all by adding
its row. Ingest, the console and key floods have cases of their own. Every refusal must be a clear
4xx: the JSON error body `{"error": {"code", "message", "requestId"}}` (with `parameter` where one is
at fault), never a 5xx, never Rust panic text; and bad input must change nothing (what ingest refuses
is not stored, a refused update leaves the record as it was, and at the end the project holds exactly
what was accepted).

The key floods run last: a limit on key lookups or a full key cache they leave behind would
spoil the cases after them.

Output: one line per case, then a summary listing the failures. Exit status 1 on any failure.
Environment: RUNLEDGER_API_URL, RUNLEDGER_INVOKE_URL and the AWS / table variables of the stack (the
CLI creates and revokes keys with them); ABUSE_CHECK_CLI, the runledger binary (default: cargo run).
Usage: scripts/abuse_check.py [--only GROUP,...]   (scripts/abuse-check runs it)
"""

import argparse
import http.client
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Limits of the contract and shared/src/model/limits.rs.
MAX_EVENTS = 1000
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_TEXT = 256
MAX_LIST_VALUES = 10
EMOJI = "\U0001F600"  # four bytes in UTF-8

STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"]
GROUP_BYS = ["status", "integration", "workflowId", "triggerType", "userId"]

# Parameter kinds (shared/src/params/).
LIST = "list"  # comma list, at most 10 values, each a query value
VALUE = "value"  # one query value: trimmed, 1..256 characters, no control characters
DATE = "date"
LIMIT = "limit"
CURSOR = "cursor"
FLAG = "flag"
KEYWORDS = "q"


@dataclass(frozen=True)
class Choice:
    values: tuple


@dataclass
class Route:
    """A read route: `path` names its ids in braces ({project}, {execution}, {step}, {trace})."""

    name: str
    path: str
    function: str
    params: dict = field(default_factory=dict)
    items: str = ""  # the page's list field, for routes that page

    def ids(self):
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]


ROUTES = [
    Route(
        "executions",
        "/v1/projects/{project}/workflow-executions",
        "list",
        {
            "integration": LIST,
            "userId": VALUE,
            "workflowId": VALUE,
            "triggerType": VALUE,
            "traceId": VALUE,
            "status": Choice(tuple(STATUSES)),
            "afterDate": DATE,
            "beforeDate": DATE,
            "sortBy": Choice(("DESC", "ASC")),
            "limit": LIMIT,
            "cursor": CURSOR,
            "count": FLAG,
            "q": KEYWORDS,
        },
        items="workflowExecutions",
    ),
    Route(
        "event-logs",
        "/v1/projects/{project}/event-logs",
        "list",
        {
            "level": Choice(tuple(LEVELS)),
            "type": LIST,
            "userId": VALUE,
            "integrationId": LIST,
            "workflowId": VALUE,
            "traceId": VALUE,
            "afterDate": DATE,
            "beforeDate": DATE,
            "sortBy": Choice(("DESC", "ASC")),
            "limit": LIMIT,
            "cursor": CURSOR,
            "count": FLAG,
            "q": KEYWORDS,
            "includeBody": FLAG,
        },
        items="eventLogs",
    ),
    Route(
        "steps",
        "/v1/projects/{project}/workflow-executions/{execution}/step-executions",
        "steps",
        {"limit": LIMIT, "cursor": CURSOR},
        items="stepExecutions",
    ),
    Route(
        "stats",
        "/v1/projects/{project}/stats",
        "list",
        {
            "integration": LIST,
            "userId": LIST,
            "workflowId": LIST,
            "triggerType": LIST,
            "status": Choice(tuple(STATUSES)),
            "afterDate": DATE,
            "beforeDate": DATE,
            "interval": Choice(("day", "hour")),
            "groupBy": Choice(tuple(GROUP_BYS)),
        },
    ),
    Route("get", "/v1/projects/{project}/workflow-executions/{execution}", "get"),
    Route("step", "/v1/projects/{project}/workflow-executions/{execution}/step-executions/{step}", "step"),
    Route("trace", "/v1/projects/{project}/traces/{trace}", "list"),
]

# The HTTP functions and a route each serves (the console has no row: it is not an API route).
HTTP_FUNCTIONS = ["list", "get", "steps", "step", "console"]


# --- transport ------------------------------------------------------------------------------------


@dataclass
class Resp:
    status: int
    headers: dict
    body: bytes
    seconds: float = 0.0

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Http:
    """One keep-alive connection to the stack; the request target and headers go out as given."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, target, headers=None, body=None, timeout=120):
        headers = dict(headers or {})
        if not any(k.lower() == "host" for k in headers):
            headers["Host"] = f"{self.host}:{self.port}"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
            started = time.monotonic()
            try:
                self.conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for k, v in headers.items():
                    self.conn.putheader(k, v)
                if body is not None:
                    self.conn.putheader("Content-Length", str(len(body)))
                self.conn.endheaders(body)
                r = self.conn.getresponse()
                data = r.read()
            except (http.client.RemoteDisconnected, http.client.CannotSendRequest, ConnectionError) as e:
                # A kept-alive connection the server closed meanwhile: once more on a new one.
                self.close()
                if attempt == 2:
                    raise NoAnswer(f"the connection closed without an answer ({type(e).__name__})") from e
                continue
            resp = Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data, time.monotonic() - started)
            if r.will_close:
                self.close()
            return resp
        raise AssertionError("unreachable")


class NoAnswer(Exception):
    pass


class Stack:
    def __init__(self, api_url, invoke_url):
        self.api = Http(api_url)
        self.invoker = Http(invoke_url) if invoke_url.rstrip("/") != api_url.rstrip("/") else self.api

    def get(self, target, key=None, headers=None, method="GET"):
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = f"Bearer {key}"
        return self.api.request(method, target, h)

    def invoke(self, function, payload):
        """The Lambda Invoke API; `payload` is bytes as sent or a value to encode."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.invoker.request(
            "POST",
            f"/2015-03-31/functions/{function}/invocations",
            {"Content-Type": "application/json"},
            body,
            timeout=300,
        )

    def ingest(self, events):
        """Report of an ingest invocation, or raises with what came back instead."""
        resp = self.invoke("ingest", {"events": events})
        body = resp.json()
        if resp.status != 200 or not isinstance(body, dict) or "accepted" not in body:
            raise SetupError(f"ingest answered {resp.status}: {resp.text[:500]}")
        return body


class SetupError(Exception):
    pass


# --- checks ---------------------------------------------------------------------------------------


def panic_text(text):
    return "panicked" in text or "RUST_BACKTRACE" in text


def error_problem(resp, status, code=None, parameter=None):
    """Why `resp` is not the expected JSON error, or None. `status` may be a tuple of statuses."""
    if panic_text(resp.text):
        return f"panic text in the answer ({resp.status}): {resp.text[:300]}"
    if resp.status >= 500:
        return f"server error {resp.status}: {resp.text[:300]}"
    wanted = status if isinstance(status, tuple) else (status,)
    if resp.status not in wanted:
        return f"status {resp.status}, want {'/'.join(map(str, wanted))}: {resp.text[:300]}"
    body = resp.json()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return f"no JSON error body: {resp.text[:300]}"
    for name in ("code", "message", "requestId"):
        if not isinstance(error.get(name), str) or not error[name]:
            return f"the error has no {name}: {resp.text[:300]}"
    if code is not None and error["code"] != code:
        return f"code {error['code']!r}, want {code!r}: {resp.text[:300]}"
    if parameter is not None and error.get("parameter") != parameter:
        return f"parameter {error.get('parameter')!r}, want {parameter!r}: {resp.text[:300]}"
    return None


def ok_problem(resp, status=200):
    if panic_text(resp.text):
        return f"panic text in the answer ({resp.status}): {resp.text[:300]}"
    if resp.status != status:
        return f"status {resp.status}, want {status}: {resp.text[:300]}"
    if resp.json() is None:
        return f"the answer is not JSON: {resp.text[:300]}"
    return None


def no_5xx_problem(resp, allowed):
    """For input whose right answer is open (allowed statuses), but never a crash."""
    if panic_text(resp.text):
        return f"panic text in the answer ({resp.status}): {resp.text[:300]}"
    if resp.status not in allowed:
        return f"status {resp.status}, want one of {allowed}: {resp.text[:300]}"
    if resp.status >= 400:
        return error_problem(resp, resp.status)
    return None if resp.json() is not None else f"the answer is not JSON: {resp.text[:300]}"


def invocation_error_problem(resp):
    """An invocation the function refuses: an error with a type and a message (the local emulator
    answers a function error with HTTP 500 and that body; AWS with 200 and X-Amz-Function-Error),
    never a panic."""
    if panic_text(resp.text):
        return f"panic text in the answer ({resp.status}): {resp.text[:300]}"
    body = resp.json()
    if 400 <= resp.status < 500:
        return None  # refused by the Invoke API itself
    if not isinstance(body, dict) or not body.get("errorType") or not body.get("errorMessage"):
        return f"not an invocation error ({resp.status}): {resp.text[:300]}"
    if "panic" in str(body.get("errorType")).lower():
        return f"the function panicked: {resp.text[:300]}"
    return None


class Suite:
    def __init__(self, only):
        self.only = only
        self.results = []

    def wants(self, group):
        return not self.only or group in self.only

    def record(self, group, name, problem):
        self.results.append((group, name, problem))
        mark = "ok  " if problem is None else "FAIL"
        line = f"{mark} {group}: {name}"
        if problem is not None:
            line += f"\n       {problem}"
        print(line, flush=True)

    def run(self, group, name, fn):
        """Records fn()'s problem (None: passed); a transport failure counts as the case's."""
        try:
            problem = fn()
        except NoAnswer as e:
            problem = str(e)
        except Exception as e:  # an answer of an unexpected shape: the case failed, the suite goes on
            problem = f"the check could not read the answer: {type(e).__name__}: {e}"
        self.record(group, name, problem)
        return problem

    def summary(self):
        failed = [r for r in self.results if r[2] is not None]
        print()
        print(f"abuse-check: {len(self.results) - len(failed)} passed, {len(failed)} failed, {len(self.results)} cases")
        if failed:
            groups = {}
            for group, name, _ in failed:
                groups.setdefault(group, []).append(name)
            print("failed:")
            for group, names in groups.items():
                print(f"  {group} ({len(names)}):")
                for name in names:
                    print(f"    - {name}")
        return 1 if failed else 0


# --- fixtures -------------------------------------------------------------------------------------


def at(minutes_ago):
    t = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def execution(project, id_, minutes_ago=30, **extra):
    e = {"kind": "execution", "projectId": project, "id": id_, "workflowId": "wf-abuse", "status": "SUCCEEDED",
         "dateStarted": at(minutes_ago), "dateEnded": at(minutes_ago - 1)}
    e.update(extra)
    return e


def step(project, execution_id, id_, minutes_ago=30, **extra):
    s = {"kind": "step", "projectId": project, "executionId": execution_id, "id": id_, "stepName": f"Step {id_}",
         "status": "SUCCEEDED", "dateStarted": at(minutes_ago)}
    s.update(extra)
    return s


def log(project, id_, minutes_ago=30, **extra):
    entry = {"kind": "log", "projectId": project, "id": id_, "timestamp": at(minutes_ago), "level": "INFO",
             "type": "WEBHOOK_TRIGGER", "message": f"log {id_}"}
    entry.update(extra)
    return entry


class Cli:
    """The runledger operator CLI (keys)."""

    def __init__(self):
        cli = os.environ.get("ABUSE_CHECK_CLI")
        self.argv = [cli] if cli else ["cargo", "run", "-q", "--bin", "runledger", "--"]

    def run(self, *args):
        r = subprocess.run([*self.argv, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise SetupError(f"runledger {' '.join(args)} failed: {r.stderr.strip()[:500]}")
        return r.stdout.strip()

    def create_key(self, project, name):
        key = self.run("key", "create", "--project", project, "--name", name)
        if not key.startswith("rl_"):
            raise SetupError(f"key create printed no key: {key[:100]!r}")
        return key

    def revoke(self, key):
        self.run("key", "revoke", "--key-id", key.split("_")[1])


def invented_key():
    """Shaped like a real key (rl_<12 hex>_<43 base64url>, shared/src/apikeys.rs), known to nobody."""
    secret = secrets.token_urlsafe(32)[:43]
    return f"rl_{secrets.token_hex(6)}_{secret}"


@dataclass
class World:
    project: str
    other: str
    key: str
    other_key: str
    revoked_key: str
    fresh_key: str
    ids: dict  # default path ids
    cursors: dict = field(default_factory=dict)  # route name -> a real nextCursor
    executions: set = field(default_factory=set)  # ids expected in the project at the end
    logs: set = field(default_factory=set)

    def path(self, route, **ids):
        values = {"project": self.project, **self.ids, **ids}
        return route.path.format(**values)


def query_string(pairs):
    return "&".join(f"{urllib.parse.quote(k, safe='')}={urllib.parse.quote(v, safe='')}" for k, v in pairs)


def target(path, pairs=None, raw=None):
    q = raw if raw is not None else query_string(pairs or [])
    return f"{path}?{q}" if q else path


def list_all(stack, path, pairs, key, items, max_pages=200):
    """Every item of a listing, following nextCursor through partial pages."""
    out, cursor = [], None
    for _ in range(max_pages):
        q = list(pairs) + ([("cursor", cursor)] if cursor else [])
        resp = stack.get(target(path, q), key)
        if resp.status != 200:
            raise SetupError(f"GET {path} answered {resp.status}: {resp.text[:300]}")
        page = resp.json()
        out.extend(page[items])
        cursor = page.get("nextCursor")
        if not cursor:
            return out
    raise SetupError(f"GET {path}: more than {max_pages} pages")


def seed(stack, cli):
    stamp = f"{int(time.time())}-{secrets.token_hex(3)}"
    project, other = f"abuse-{stamp}", f"abuse-other-{stamp}"
    key = cli.create_key(project, "abuse-check")
    other_key = cli.create_key(other, "abuse-check-other")
    # Revoked before its first use, so no instance has it cached as valid.
    revoked_key = cli.create_key(project, "abuse-check-revoked")
    cli.revoke(revoked_key)
    # For the flood: never used before it, so its first use needs a lookup.
    fresh_key = cli.create_key(project, "abuse-check-fresh")

    events = [
        execution(project, "ex-1", 30, status="FAILED", workflowId="wf-1", integration="salesforce",
                  userId="user-1", triggerType="webhook", traceId="tr-1", input={"leadId": "00Q5g000004XyZ"},
                  error={"code": "RATE_LIMITED", "message": "rate limited"}),
        step(project, "ex-1", "ex-1-s1", 30),
        step(project, "ex-1", "ex-1-s2", 30, status="FAILED"),
        step(project, "ex-1", "ex-1-s3", 29, status="CANCELLED"),
        execution(project, "ex-2", 20, workflowId="wf-2", integration="hubspot", output={"ok": True}),
        step(project, "ex-2", "ex-2-s1", 20),
        step(project, "ex-2", "ex-2-s2", 20),
        execution(project, "ex-3", 10, status="RUNNING", dateEnded=None),
        log(project, "lg-1", 31, traceId="tr-1", integrationId="salesforce", payload={"leadId": "00Q5g000004XyZ"}),
        log(project, "lg-2", 21, level="WARN", type="APP_EVENT_TRIGGER"),
        log(project, "lg-3", 11, level="ERROR"),
        execution(other, "bx-1", 15),
        log(other, "bl-1", 15),
    ]
    for e in events:
        if e.get("dateEnded", "") is None:
            del e["dateEnded"]
    report = stack.ingest(events)
    if report["accepted"] != len(events) or report.get("rejected"):
        raise SetupError(f"seeding: {json.dumps(report)[:500]}")
    w = World(project, other, key, other_key, revoked_key, fresh_key,
              ids={"execution": "ex-1", "step": "ex-1-s1", "trace": "tr-1"})
    w.executions = {"ex-1", "ex-2", "ex-3"}
    w.logs = {"lg-1", "lg-2", "lg-3"}
    # Real cursors of every paged route.
    for route in ROUTES:
        if CURSOR not in route.params.values():
            continue
        w.cursors[route.name] = list_first_cursor(stack, w, route)
    return w


def list_first_cursor(stack, w, route):
    """A nextCursor of `route` at limit=1 (a partial page may come first; any issued cursor will do)."""
    resp = stack.get(target(w.path(route), [("limit", "1")]), w.key)
    page = resp.json() if resp.status == 200 else None
    if not page or not page.get("nextCursor"):
        raise SetupError(f"no cursor from {route.name}: {resp.status} {resp.text[:300]}")
    return page["nextCursor"]


# --- generic attacks on every route ---------------------------------------------------------------


def valid_value(kind, w, route):
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")
    if isinstance(kind, Choice):
        return kind.values[0]
    return {
        LIST: "salesforce",
        VALUE: "user-1",
        DATE: yesterday,
        LIMIT: "5",
        CURSOR: w.cursors.get(route.name, "x"),
        FLAG: "true",
        KEYWORDS: "00Q5g000004XyZ",
    }[kind]


def bad_values(kind):
    """(label, value) pairs each refused with 400 naming the parameter."""
    common = [("empty", ""), ("whitespace only", "   ")]
    if kind == LIMIT:
        return common + [("abc", "abc"), ("0", "0"), ("100000", "100000"), ("-1", "-1"), ("1.5", "1.5"),
                         ("1e3", "1e3"), ("2^64", "18446744073709551616"), ("non-UTF-8", "\udcff")]
    if kind == DATE:
        return common + [("a word", "yesterday"), ("Feb 30", "2023-02-30"), ("month 13", "2023-13-01"),
                         ("hour 25", "2023-02-16T25:00:00"), ("epoch seconds", "1676505600"),
                         ("offset +25:00", "2023-02-16T00:00:00+25:00"), ("overlong", "2023-02-16" + "0" * 300)]
    if kind in (VALUE, LIST):
        vals = common + [("257 characters", "x" * (MAX_TEXT + 1)), ("257 four-byte characters", EMOJI * (MAX_TEXT + 1)),
                         ("NUL", "a\x00b"), ("control U+001F", "a\x1fb"), ("DEL", "a\x7fb"), ("C1 U+0085 inside", "a\x85b")]
        if kind == LIST:
            vals += [(f"{MAX_LIST_VALUES + 1} values", ",".join(f"v{i}" for i in range(MAX_LIST_VALUES + 1))),
                     ("an empty item", "a,,b"), ("a trailing comma", "a,")]
        return vals
    if kind == FLAG:
        return common + [("maybe", "maybe"), ("1", "1"), ("yes", "yes")]
    if kind == KEYWORDS:
        return common + [("8,000 characters", "x" * 8000), ("no letter or digit", "---"),
                         ("11 keywords", " ".join(f"w{i}" for i in range(11)))]
    if isinstance(kind, Choice):
        return common + [("unknown", "NOPE"), ("one unknown in a list", f"{kind.values[0]},NOPE"),
                         ("overlong", "A" * 5000)]
    return []


def quote_value(v):
    # A lone surrogate stands for an undecodable byte: sent as %FF.
    if v == "\udcff":
        return "%FF"
    return urllib.parse.quote(v, safe="")


def attack_params(stack, suite, w, route):
    group = f"params/{route.name}"
    path = w.path(route)

    def expect(name, raw_query, status, code, parameter=None, key=w.key):
        suite.run(group, name, lambda: error_problem(stack.get(target(path, raw=raw_query), key), status, code, parameter))

    if not route.params:
        expect("any parameter -> 400 invalid_parameter", "limit=1", 400, "invalid_parameter", "limit")
        expect("an empty parameter name -> 400", "=1", 400, "invalid_parameter")
        return
    expect("unknown parameter -> 400 invalid_parameter", "colour=red", 400, "invalid_parameter", "colour")
    expect("a parameter in another case -> 400", "LIMIT=5", 400, "invalid_parameter", "LIMIT")
    expect("a NUL parameter name -> 400", "%00=1", 400, "invalid_parameter")
    expect("a bare name without '=' -> 400", "colour", 400, "invalid_parameter", "colour")
    for name, kind in route.params.items():
        v = quote_value(valid_value(kind, w, route))
        if kind != CURSOR:
            suite.run(group, f"{name}={urllib.parse.unquote(v)[:40]} alone -> 200 (the table matches the route)",
                      lambda n=name, v=v: ok_problem(stack.get(target(path, raw=f"{n}={v}"), w.key)))
        expect(f"{name} twice -> 400 invalid_parameter", f"{name}={v}&{name}={v}", 400, "invalid_parameter", name)
        if kind == CURSOR:
            continue  # attack_cursors
        for label, bad in bad_values(kind):
            expect(f"{name} {label} -> 400 invalid_parameter", f"{name}={quote_value(bad)}", 400, "invalid_parameter", name)
    if DATE in route.params.values():
        expect("afterDate later than beforeDate -> 400 (beforeDate)",
               "afterDate=2026-02-20&beforeDate=2026-02-10", 400, "invalid_parameter", "beforeDate")
        expect("afterDate equal to beforeDate -> 400 (beforeDate)",
               "afterDate=2026-02-20T00:00:00Z&beforeDate=2026-02-20", 400, "invalid_parameter", "beforeDate")
    # Undecodable bytes in a filter value: the right answer is open (no match, or a refusal), a crash is not.
    first_value = next((n for n, k in route.params.items() if k in (VALUE, LIST)), None)
    if first_value:
        suite.run(group, f"{first_value} of non-UTF-8 bytes -> 200 or 400, never 5xx",
                  lambda: no_5xx_problem(stack.get(target(path, raw=f"{first_value}=%FF%FE%C3%28"), w.key), (200, 400)))
        suite.run(group, f"{first_value} with a malformed escape -> 200 or 400, never 5xx",
                  lambda: no_5xx_problem(stack.get(target(path, raw=f"{first_value}=%zz%"), w.key), (200, 400)))


def attack_cursors(stack, suite, w, route):
    if CURSOR not in route.params.values():
        return
    group = f"cursor/{route.name}"
    path = w.path(route)
    real = w.cursors[route.name]
    mid = len(real) // 2
    tampered = real[:mid] + ("A" if real[mid] != "A" else "B") + real[mid + 1:]

    def expect(name, pairs, key=w.key, at_path=path):
        suite.run(group, name, lambda: error_problem(stack.get(target(at_path, pairs), key), 400, "invalid_cursor"))

    suite.run(group, "the issued cursor -> 200", lambda: ok_problem(stack.get(target(path, [("cursor", real)]), w.key)))
    suite.run(group, "the issued cursor with another limit -> 200",
              lambda: ok_problem(stack.get(target(path, [("cursor", real), ("limit", "2")]), w.key)))
    expect("empty -> 400 invalid_cursor", [("cursor", "")])
    expect("random text -> 400 invalid_cursor", [("cursor", "abcdef")])
    expect("random base64 -> 400 invalid_cursor", [("cursor", secrets.token_urlsafe(60))])
    expect("10,000 characters -> 400 invalid_cursor", [("cursor", "A" * 10000)])
    expect("one character changed -> 400 invalid_cursor", [("cursor", tampered)])
    expect("truncated -> 400 invalid_cursor", [("cursor", real[:-4])])
    expect("with characters appended -> 400 invalid_cursor", [("cursor", real + "AAAA")])
    expect("NUL inside -> 400 invalid_cursor", [("cursor", real[:mid] + "\x00" + real[mid:])])
    if "status" in route.params:
        expect("from another query (other filters) -> 400 invalid_cursor", [("cursor", real), ("status", "FAILED")])
    if "sortBy" in route.params:
        expect("from another query (other order) -> 400 invalid_cursor", [("cursor", real), ("sortBy", "ASC")])
    for other in ROUTES:
        if other.name != route.name and other.name in w.cursors:
            expect(f"from {other.name} -> 400 invalid_cursor", [("cursor", w.cursors[other.name])])
    if "execution" in route.ids():
        expect("from another execution -> 400 invalid_cursor", [("cursor", real)],
               at_path=w.path(route, execution="ex-2"))
    other_ids = {"project": w.other, **({"execution": "bx-1"} if "execution" in route.ids() else {})}
    expect("from another project (with that project's key) -> 400 invalid_cursor", [("cursor", real)],
           key=w.other_key, at_path=w.path(route, **other_ids))


def attack_auth(stack, suite, w, route):
    group = f"auth/{route.name}"
    path = w.path(route)

    def expect(name, authorization, status, code):
        headers = {} if authorization is None else {"Authorization": authorization}
        suite.run(group, name, lambda: error_problem(stack.get(path, headers=headers), status, code))

    suite.run(group, "the project's key -> 200", lambda: ok_problem(stack.get(path, w.key)))
    expect("no Authorization header -> 401", None, 401, "unauthorized")
    expect("'Bearer ' and nothing -> 401", "Bearer ", 401, "unauthorized")
    expect("'Bearer' alone -> 401", "Bearer", 401, "unauthorized")
    expect("garbage -> 401", "Bearer garbage", 401, "unauthorized")
    expect("Basic credentials -> 401", "Basic dXNlcjpwYXNz", 401, "unauthorized")
    expect("the key without 'Bearer ' -> 401", w.key, 401, "unauthorized")
    expect("the key with a character appended -> 401", f"Bearer {w.key}x", 401, "unauthorized")
    expect("the key with its secret changed -> 401", f"Bearer {w.key[:-3]}AAA", 401, "unauthorized")
    expect("an invented well-formed key -> 401", f"Bearer {invented_key()}", 401, "unauthorized")
    expect("2,000 characters -> 401", "Bearer rl_" + "a" * 2000, 401, "unauthorized")
    expect("another project's valid key -> 403", f"Bearer {w.other_key}", 403, "forbidden")
    expect("a revoked key -> 401", f"Bearer {w.revoked_key}", 401, "unauthorized")


def attack_methods(stack, suite, w, route):
    group = f"methods/{route.name}"
    path = w.path(route)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        def check(method=method):
            resp = stack.get(path, w.key, method=method)
            problem = error_problem(resp, 405, "method_not_allowed")
            if problem is None and resp.headers.get("allow") != "GET":
                problem = f"Allow is {resp.headers.get('allow')!r}, want 'GET'"
            return problem
        suite.run(group, f"{method} -> 405 method_not_allowed, Allow: GET", check)


# Path segments (as sent, percent-encoded) that are no id: each must find no route (404).
BAD_IDS = [
    ("'..'", ".."),
    ("'.'", "."),
    ("'%2e%2e'", "%2e%2e"),
    ("%00", "%00"),
    ("a%00b", "a%00b"),
    ("an encoded slash", "a%2Fb"),
    ("an encoded '?'", "a%3Fb"),
    ("an encoded '#'", "a%23b"),
    ("a space", "a%20b"),
    ("300 characters", "x" * 300),
    ("non-UTF-8 bytes", "%FF%FE"),
    ("a malformed UTF-8 sequence", "%C3%28"),
    ("a malformed escape", "%zz"),
]


def attack_path_ids(stack, suite, w, route):
    group = f"path/{route.name}"
    for id_name in route.ids():
        # A trace id follows the query-value rule, not the id rule: '..' or 'a/b' are trace ids that
        # nothing has, so those are 404 too.
        for label, segment in BAD_IDS:
            path = w.path(route, **{id_name: segment})
            if id_name == "project":
                # Some of these decode to a valid project id (the route exists): the key is not that
                # project's, so 403 is as right as 404.
                name, status, code = f"{id_name} {label} -> 404 or 403", (404, 403), None
            else:
                name, status, code = f"{id_name} {label} -> 404", 404, "not_found"
            suite.run(group, f"{name} (HTTP)",
                      lambda p=path, s=status, c=code: error_problem(stack.get(p, w.key), s, c))
            suite.run(group, f"{name} (Invoke API, {route.function})",
                      lambda p=path, s=status, c=code: invoked_http_problem(stack, route.function, p, {}, w.key, s, c))


# --- headers that make no URL (raw API Gateway events) ---------------------------------------------


def http_event(path, raw_query="", key=None, headers=None, method="GET"):
    """An API Gateway HTTP API (v2) event as the gateway hands it to a function."""
    now = datetime.now(timezone.utc)
    h = {"accept": "application/json", "host": "127.0.0.1:9100", "user-agent": "runledger-abuse-check",
         "x-forwarded-proto": "http", "x-forwarded-port": "9100"}
    if key is not None:
        h["authorization"] = f"Bearer {key}"
    h.update(headers or {})
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": h,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "127",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "runledger-abuse-check"},
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    return event


def invoked(stack, function, event):
    """(statusCode, body Resp) of an HTTP function's answer to a raw event, or (None, problem)."""
    resp = stack.invoke(function, event)
    if panic_text(resp.text):
        return None, f"panic text in the invocation's answer ({resp.status}): {resp.text[:300]}"
    body = resp.json()
    if not isinstance(body, dict) or "statusCode" not in body:
        return None, f"the function gave no HTTP answer ({resp.status}): {resp.text[:300]}"
    headers = {k.lower(): v for k, v in (body.get("headers") or {}).items()}
    text = body.get("body") or ""
    return body["statusCode"], Resp(body["statusCode"], headers, text.encode())


def invoked_http_problem(stack, function, path, headers, key, status, code):
    answer, resp = invoked(stack, function, http_event(path, key=key, headers=headers))
    if answer is None:
        return resp
    if status == 200:
        return ok_problem(resp) if function != "console" else (
            None if resp.status == 200 else f"status {resp.status}: {resp.text[:300]}")
    return error_problem(resp, status, code)


BAD_HEADERS = [
    ("host 'bad host'", {"host": "bad host"}),
    ("x-forwarded-proto 'ht tp'", {"x-forwarded-proto": "ht tp"}),
    ("host '[::1'", {"host": "[::1"}),
]


def function_paths(w):
    """A path each HTTP function serves, with the function."""
    by_function = {}
    for route in ROUTES:
        by_function.setdefault(route.function, w.path(route))
    by_function["console"] = "/console"
    return [(f, by_function[f]) for f in HTTP_FUNCTIONS]


def attack_headers(stack, suite, w):
    group = "headers"
    for function, path in function_paths(w):
        suite.run(group, f"{function}: a well-formed event -> statusCode 200 (control)",
                  lambda f=function, p=path: invoked_http_problem(stack, f, p, {}, w.key, 200, None))
        for label, headers in BAD_HEADERS:
            suite.run(group, f"{function}: {label} (Invoke API) -> statusCode 400, JSON error",
                      lambda f=function, p=path, h=headers: invoked_http_problem(stack, f, p, h, w.key, 400, None))
        for label, headers in BAD_HEADERS:
            def through_http(p=path, h=headers):
                # Refused by the local server or by the function: either is a 400; a crash is not.
                resp = stack.get(p, w.key, headers={("Host" if k == "host" else k): v for k, v in h.items()})
                if panic_text(resp.text):
                    return f"panic text in the answer ({resp.status}): {resp.text[:300]}"
                if resp.status != 400:
                    return f"status {resp.status}, want 400: {resp.text[:300]}"
                return None
            suite.run(group, f"{function}: {label} (HTTP) -> 400", through_http)


# --- the console -----------------------------------------------------------------------------------


def csp_directives(policy):
    out = {}
    for part in policy.split(";"):
        tokens = part.split()
        if tokens:
            out.setdefault(tokens[0].lower(), tokens[1:])
    return out


def attack_console(stack, suite):
    group = "console"

    def page():
        resp = stack.get("/console")
        if resp.status != 200 or not resp.headers.get("content-type", "").startswith("text/html"):
            return f"GET /console answered {resp.status} {resp.headers.get('content-type')!r}"
        policy = resp.headers.get("content-security-policy")
        if not policy:
            return "no content-security-policy header"
        d = csp_directives(policy)
        if d.get("frame-ancestors") != ["'none'"]:
            return f"frame-ancestors is {d.get('frame-ancestors')}, want 'none': {policy}"
        # connect-src falls back to default-src; neither means any origin, as `*` does.
        connect = d.get("connect-src", d.get("default-src"))
        if connect is None or any(s == "*" or s.startswith("*") for s in connect):
            return f"connect-src allows any origin ({connect}): {policy}"
        return None

    suite.run(group, "GET /console -> 200 with a CSP: frame-ancestors 'none', no connect-src *", page)
    for label, path in [("an unknown asset", "/console/assets/nope.js"), ("'..' out of the console", "/console/assets/..%2F..%2FCargo.toml"),
                        ("a NUL", "/console/assets/app.js%00")]:
        def check(p=path):
            resp = stack.get(p)
            if panic_text(resp.text) or resp.status >= 500:
                return f"{resp.status}: {resp.text[:300]}"
            return None if resp.status == 404 else f"status {resp.status}, want 404"
        suite.run(group, f"{label} -> 404", check)

    def post():
        resp = stack.get("/console", method="POST")
        return None if resp.status == 405 else f"status {resp.status}, want 405: {resp.text[:200]}"
    suite.run(group, "POST /console -> 405", post)


# --- ingest ----------------------------------------------------------------------------------------


def stored(stack, w, execution_id, project=None):
    resp = stack.get(f"/v1/projects/{project or w.project}/workflow-executions/{urllib.parse.quote(execution_id, safe='')}", w.key)
    if resp.status not in (200, 404):
        raise NoAnswer(f"GET {execution_id} answered {resp.status}: {resp.text[:300]}")
    return resp.status == 200


def log_ids(stack, w, pairs):
    route = next(r for r in ROUTES if r.name == "event-logs")
    return {e["id"] for e in list_all(stack, w.path(route), pairs, w.key, "eventLogs")}


def execution_ids(stack, w, pairs):
    route = next(r for r in ROUTES if r.name == "executions")
    return {e["id"] for e in list_all(stack, w.path(route), pairs, w.key, "workflowExecutions")}


def rejected_problem(report, expected_indexes, accepted):
    """Whether an ingest report rejected exactly these events, each with a code and a message."""
    if not isinstance(report, dict) or "rejected" not in report:
        return f"not an ingest report: {json.dumps(report)[:300]}"
    got = {r.get("index"): r for r in report["rejected"]}
    if set(got) != set(expected_indexes):
        return f"rejected indexes {sorted(got)}, want {sorted(expected_indexes)}: {json.dumps(report)[:500]}"
    for r in got.values():
        if not r.get("code") or not r.get("message"):
            return f"a rejection without code or message: {r}"
    if report.get("accepted", 0) + report.get("duplicates", 0) != accepted:
        return f"accepted {report.get('accepted')} (+{report.get('duplicates')} duplicates), want {accepted}"
    return None


def attack_ingest(stack, suite, w):
    group = "ingest"
    p = w.project

    def envelope_refused(name, payload, not_stored=()):
        def check():
            problem = invocation_error_problem(stack.invoke("ingest", payload))
            if problem:
                return problem
            found = [i for i in not_stored if stored(stack, w, i)]
            return f"stored anyway: {found}" if found else None
        suite.run(group, name, check)

    envelope_refused("not JSON -> an invocation error, nothing stored", b"{\"events\": [not json")
    envelope_refused("a bare JSON array of events -> an invocation error, nothing stored",
                     [execution(p, "bare-1")], ["bare-1"])
    envelope_refused("no events -> an invocation error", {"events": []})
    envelope_refused("events not a list -> an invocation error", {"events": {"kind": "execution"}})
    envelope_refused("an unknown envelope field -> an invocation error, nothing stored",
                     {"events": [execution(p, "env-extra-1")], "extra": 1}, ["env-extra-1"])
    bulk = [execution(p, f"bulk-{i:04d}", workflowId="wf-bulk") for i in range(MAX_EVENTS + 1)]
    envelope_refused(f"{MAX_EVENTS + 1} events -> an invocation error, none stored",
                     {"events": bulk}, ["bulk-0000", f"bulk-{MAX_EVENTS:04d}"])
    suite.run(group, f"{MAX_EVENTS + 1} events: nothing of them listed",
              lambda: (lambda ids: f"listed: {sorted(ids)[:5]}" if ids else None)(
                  execution_ids(stack, w, [("workflowId", "wf-bulk")])))

    # One envelope of valid and invalid events: the valid ones stored, each invalid one reported.
    mixed = [
        execution(p, "mix-ok-1", 25, workflowId="wf-mix"),  # 0 ok
        execution(p, "mix-bad-status", 25, workflowId="wf-mix", status="DONE"),  # 1
        log(p, "mix-log-ok", 25, traceId="tr-mix"),  # 2 ok
        log(p, "mix-log-bad-level", 25, traceId="tr-mix", level="LOUD"),  # 3
        step(p, "mix-ok-1", "mix-ok-1-s1", 25),  # 4 ok
        {k: v for k, v in execution(p, "mix-no-workflow", 25).items() if k != "workflowId"},  # 5
        execution(p, "mix-expired", 200 * 24 * 60, workflowId="wf-mix"),  # 6
        {**execution(p, "mix-bad-kind", 25, workflowId="wf-mix"), "kind": "nope"},  # 7
        execution(p, "mix-unknown-field", 25, workflowId="wf-mix", colour="red"),  # 8
        step(p, "mix-ok-1", "mix-step-unknown-field", 25, colour="red"),  # 9
        log(p, "mix-log-unknown-field", 25, traceId="tr-mix", colour="red"),  # 10
        execution(p, "mix-future", -3 * 24 * 60, workflowId="wf-mix"),  # 11
        execution(p, "..", 25, workflowId="wf-mix"),  # 12
        execution(p, "mix-ended-early", 25, workflowId="wf-mix", dateEnded=at(40)),  # 13
        execution(p, "mix-long-message", 25, workflowId="wf-mix", error={"message": "m" * 5000}),  # 14
        "not an object",  # 15
        execution(p, "mix-null-status", 25, workflowId="wf-mix", status=None),  # 16
        execution(p, "mix-integration-comma", 25, workflowId="wf-mix", integration="a,b"),  # 17
        execution(p, "mix-user-control", 25, workflowId="wf-mix", userId="a\x00b"),  # 18
        execution(p, "mix-negative-count", 25, workflowId="wf-mix", taskCount=-1),  # 19
    ]
    bad = [1, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    report = stack.invoke("ingest", {"events": mixed}).json()
    suite.run(group, "mixed envelope: each invalid event rejected with a code, the valid ones accepted",
              lambda: rejected_problem(report, bad, len(mixed) - len(bad)))

    def mixed_stored():
        if not stored(stack, w, "mix-ok-1"):
            return "the valid execution mix-ok-1 was not stored"
        detail = stack.get(f"/v1/projects/{p}/workflow-executions/mix-ok-1", w.key).json()
        steps = [s["id"] for s in detail.get("steps", [])]
        if steps != ["mix-ok-1-s1"]:
            return f"mix-ok-1 has steps {steps}, want only mix-ok-1-s1 (the valid one)"
        logs = log_ids(stack, w, [("traceId", "tr-mix")])
        if logs != {"mix-log-ok"}:
            return f"event logs of the envelope: {sorted(logs)}, want only mix-log-ok"
        found = [e["id"] for e in mixed if isinstance(e, dict) and e.get("kind") == "execution"
                 and e["id"] != "mix-ok-1" and e["id"] != ".." and stored(stack, w, e["id"])]
        return f"rejected executions stored anyway: {found}" if found else None
    suite.run(group, "mixed envelope: only the valid events stored", mixed_stored)
    w.executions.add("mix-ok-1")
    w.logs.add("mix-log-ok")

    # Over the body size limit: refused with payload_too_large, and a valid event beside it is stored.
    huge = "x" * (MAX_BODY_BYTES - 1)  # with its quotes, one byte over
    for kind, events in [
        ("execution input", [execution(p, "big-exec", 25, workflowId="wf-big", input=huge)]),
        ("step output", [step(p, "ex-2", "big-step", 25, output=huge)]),
        ("log payload", [log(p, "big-log", 25, traceId="tr-big", payload=huge)]),
    ]:
        events.append(execution(p, f"big-beside-{kind.split()[0]}", 25, workflowId="wf-big"))

        def check(events=events, kind=kind):
            report = stack.invoke("ingest", {"events": events}).json()
            problem = rejected_problem(report, [0], 1)
            if problem:
                return problem
            if report["rejected"][0]["code"] != "payload_too_large":
                return f"code {report['rejected'][0]['code']!r}, want 'payload_too_large'"
            if kind.startswith("execution") and stored(stack, w, "big-exec"):
                return "the oversized execution was stored"
            if kind.startswith("step"):
                r = stack.get(f"/v1/projects/{p}/workflow-executions/ex-2/step-executions/big-step", w.key)
                if r.status != 404:
                    return f"the oversized step: GET answered {r.status}, want 404"
            if kind.startswith("log") and log_ids(stack, w, [("traceId", "tr-big")]):
                return "the oversized event log was stored"
            if not stored(stack, w, events[1]["id"]):
                return f"the valid event beside it ({events[1]['id']}) was not stored"
            return None
        suite.run(group, f"{kind} over {MAX_BODY_BYTES} bytes -> rejected payload_too_large, nothing stored", check)
        w.executions.add(events[1]["id"])

    # A refused update leaves the stored record exactly as it was.
    for label, update in [
        ("status DONE", execution(p, "ex-2", 20, workflowId="wf-2", status="DONE", output={"changed": True})),
        ("an unknown field", execution(p, "ex-2", 20, workflowId="wf-2", output={"changed": True}, colour="red")),
        ("a 257-character userId", execution(p, "ex-2", 20, workflowId="wf-2", userId="u" * 257)),
        (f"a {MAX_TEXT}-four-byte-character integration", execution(p, "ex-2", 20, workflowId="wf-2",
                                                                     integration=EMOJI * MAX_TEXT)),
        ("a step with a bad status", step(p, "ex-2", "ex-2-s1", 20, status="DONE", output={"changed": True})),
    ]:
        def check(update=update):
            before = stack.get(f"/v1/projects/{p}/workflow-executions/ex-2", w.key).json()
            step_before = stack.get(f"/v1/projects/{p}/workflow-executions/ex-2/step-executions/ex-2-s1", w.key).json()
            report = stack.invoke("ingest", {"events": [update]}).json()
            problem = rejected_problem(report, [0], 0)
            after = stack.get(f"/v1/projects/{p}/workflow-executions/ex-2", w.key).json()
            step_after = stack.get(f"/v1/projects/{p}/workflow-executions/ex-2/step-executions/ex-2-s1", w.key).json()
            if before != after or step_before != step_after:
                return (problem + "; " if problem else "") + "the stored record changed"
            return problem
        suite.run(group, f"an update of ex-2 with {label} -> rejected, ex-2 unchanged", check)


# Fields whose value becomes part of an index or counter key (executions) and the log's type.
BYTE_FIELDS = [("execution", "integration"), ("execution", "workflowId"), ("execution", "userId"),
               ("execution", "triggerType"), ("log", "type")]


def attack_key_bytes(stack, suite, w):
    group = "ingest-bytes"
    p = w.project
    events, plan = [], []
    for kind, name in BYTE_FIELDS:
        for n in (MAX_TEXT, 200):
            id_ = f"bytes-{name}-{n}"
            value = EMOJI * n
            if kind == "execution":
                events.append(execution(p, id_, 15, **{"workflowId": "wf-bytes", name: value}))
            else:
                events.append(log(p, id_, 15, **{"traceId": f"tr-{id_}", name: value}))
            plan.append((kind, name, n, id_, value, len(events) - 1))
    report = stack.invoke("ingest", {"events": events}).json()
    if not isinstance(report, dict) or "rejected" not in report:
        suite.record(group, "the envelope", f"not an ingest report: {json.dumps(report)[:300]}")
        return
    rejected = {r["index"]: r for r in report["rejected"]}
    for kind, name, n, id_, value, index in plan:
        where = "event-logs" if kind == "log" else "workflow-executions"
        if n == MAX_TEXT:
            def check(index=index, id_=id_, kind=kind):
                r = rejected.get(index)
                problem = None
                if r is None:
                    problem = "accepted"
                elif not r.get("code") or not r.get("message"):
                    problem = f"rejected without code or message: {r}"
                if kind == "execution" and stored(stack, w, id_):
                    problem = (problem or "rejected") + ", and stored (GET answers 200)"
                if kind == "log" and log_ids(stack, w, [("traceId", f"tr-{id_}")]):
                    problem = (problem or "rejected") + ", and stored (listed)"
                return problem
            suite.run(group, f"{kind} {name} of {n} four-byte characters ({4 * n} bytes) -> rejected with a code, not stored", check)
        else:
            def check(index=index, id_=id_, kind=kind, name=name, value=value):
                if index in rejected:
                    return f"rejected: {rejected[index]}"
                param = name
                found = (execution_ids if kind == "execution" else log_ids)(stack, w, [(param, value)])
                return None if id_ in found else f"not found by {where}?{param}=<the value> (found {sorted(found)})"
            suite.run(group, f"{kind} {name} of {n} four-byte characters ({4 * n} bytes) -> accepted, found by its filter", check)
            (w.executions if kind == "execution" else w.logs).add(id_)


def inventory(stack, suite, w):
    """Nothing the suite sent was stored beyond what ingest accepted."""
    def executions():
        got = execution_ids(stack, w, [])
        extra, missing = got - w.executions, w.executions - got
        if extra or missing:
            return f"unexpected: {sorted(extra)}; missing: {sorted(missing)}"
        return None

    def logs():
        got = log_ids(stack, w, [])
        extra, missing = got - w.logs, w.logs - got
        if extra or missing:
            return f"unexpected: {sorted(extra)}; missing: {sorted(missing)}"
        return None
    suite.run("inventory", "the project's executions are exactly those accepted", executions)
    suite.run("inventory", "the project's event logs are exactly those accepted", logs)


# --- key floods (last: they use up the list function's lookup budget) --------------------------------


def attack_floods(stack, suite, w):
    group = "key-flood"
    route = next(r for r in ROUTES if r.name == "executions")
    path = w.path(route)

    def flood(n):
        statuses, problems = {}, []
        for _ in range(n):
            resp = stack.get(path, invented_key())
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
            if resp.status >= 500 or panic_text(resp.text):
                problems.append(f"{resp.status}: {resp.text[:200]}")
        return statuses, problems

    statuses, problems = flood(240)

    def invented_240():
        if problems:
            return f"{len(problems)} crashes, e.g. {problems[0]}"
        return None if set(statuses) == {401} else f"statuses {statuses}, want 240 x 401"
    suite.run(group, "240 invented well-formed keys -> each 401", invented_240)

    def fresh():
        resp = stack.get(path, w.fresh_key)
        problem = ok_problem(resp)
        return f"{problem} (after 240 invented keys; a valid key never used before)" if problem else None
    suite.run(group, "then a valid key never used before -> 200 (not 429)", fresh)

    suite.run(group, "the project's key, used before the next flood -> 200", lambda: ok_problem(stack.get(path, w.key)))
    statuses, problems = flood(1100)

    def invented_1100():
        if problems:
            return f"{len(problems)} crashes, e.g. {problems[0]}"
        other = {s: c for s, c in statuses.items() if s not in (401, 429)}
        return f"statuses {statuses}, want 401 (or 429)" if other else None
    suite.run(group, "1,100 distinct invented keys -> 401/429, never 5xx", invented_1100)

    def cached():
        resp = stack.get(path, w.key)
        problem = ok_problem(resp)
        if problem:
            return f"{problem} (a key used before the flood)"
        return None if resp.seconds < 1.0 else f"answered in {resp.seconds:.2f} s, want under 1 s"
    suite.run(group, "then the key used before -> 200 within 1 s", cached)


# --- main ------------------------------------------------------------------------------------------

GROUPS = ["auth", "methods", "params", "cursor", "path", "headers", "console", "ingest", "ingest-bytes",
          "inventory", "key-flood"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help=f"comma-separated groups: {', '.join(GROUPS)}")
    args = parser.parse_args()
    only = {g for g in args.only.split(",") if g}
    unknown = only - set(GROUPS)
    if unknown:
        parser.error(f"unknown groups {sorted(unknown)}; use {', '.join(GROUPS)}")
    api_url = os.environ.get("RUNLEDGER_API_URL")
    if not api_url:
        sys.exit("abuse-check: RUNLEDGER_API_URL is not set (start the stack and load .local/test.env)")
    stack = Stack(api_url, os.environ.get("RUNLEDGER_INVOKE_URL") or api_url)
    suite = Suite(only)
    started = time.monotonic()
    try:
        w = seed(stack, Cli())
    except (SetupError, NoAnswer, OSError) as e:
        print(f"abuse-check: setup failed: {e}", file=sys.stderr)
        return 2
    print(f"abuse-check: project {w.project} (and {w.other}), seeded in {time.monotonic() - started:.1f} s", flush=True)

    try:
        for route in ROUTES:
            if suite.wants("auth"):
                attack_auth(stack, suite, w, route)
            if suite.wants("methods"):
                attack_methods(stack, suite, w, route)
            if suite.wants("params"):
                attack_params(stack, suite, w, route)
            if suite.wants("cursor"):
                attack_cursors(stack, suite, w, route)
            if suite.wants("path"):
                attack_path_ids(stack, suite, w, route)
        if suite.wants("headers"):
            attack_headers(stack, suite, w)
        if suite.wants("console"):
            attack_console(stack, suite)
        if suite.wants("ingest"):
            attack_ingest(stack, suite, w)
        if suite.wants("ingest-bytes"):
            attack_key_bytes(stack, suite, w)
        if suite.wants("inventory") and (not only or {"ingest", "ingest-bytes"} <= only):
            inventory(stack, suite, w)
        if suite.wants("key-flood"):
            attack_floods(stack, suite, w)
    except Exception as e:  # the summary still lists what ran
        suite.record("suite", "ran to the end", f"{type(e).__name__}: {e}")
    print(f"abuse-check: {time.monotonic() - started:.1f} s")
    return suite.summary()


if __name__ == "__main__":
    sys.exit(main())
