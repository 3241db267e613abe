#!/usr/bin/env python3
"""Cold start, invocation latency and peak memory of the function binaries, outside Lambda.

Serves a minimal AWS Lambda Runtime API on 127.0.0.1 (random port) and runs one function binary
against it as Lambda would: the runtime variables plus the function's own settings, one event at a
time over `invocation/next`. For each cold start of a binary it measures
  init        from spawning the process to its first `GET .../invocation/next`,
  first       from handing out the first event to receiving its response,
  warm median the same event served again WARM more times, median of those,
  peak RSS    VmHWM of the process after those invocations,
and reports what the function answered (the HTTP status inside an API Gateway response, or the
ingest report's counts), so a run that measured nothing but errors is visible as such. Exits 1 when
a function does not start, or answers otherwise than expected (its figures are printed all the same).

A single cold start takes a few milliseconds and machine noise is of the same order, so each binary
is started RUNS times, round-robin over the binaries (the order rotating each round) so that noise
hits all of them alike; the figures printed are the medians over those cold starts (warm median:
over all warm invocations).

The list, get, steps and step functions get an API Gateway HTTP API (v2) request with a well-formed
but unknown API key: each invocation makes one DynamoDB GetItem and answers 401. ingest gets
{"events": [one execution event]}; served again, the same event is a duplicate.

`baseline` (runledger-tests, bin `baseline`) is the smallest useful function with the same SDK setup
and release profile: one DynamoDB client, one GetItem per invocation; any successful response will
do. When it is measured alongside, each function's median init and peak RSS are also printed as a
ratio to the baseline's, against the targets INIT_TARGET and RSS_TARGET below (a missed target is
reported, it does not change the exit status).

Figures depend on the machine and, for the calls made, on the emulator; they compare builds on one
machine, they are not Lambda's figures.

Usage: scripts/coldstart.py [--bin-dir DIR] [--warm N] [--runs N] [FUNCTION ...]
       (default: list get steps step ingest baseline)
Function settings come from the environment when set there, else from the defaults below
(the endpoints default to the bench emulators: DynamoDB Local on http://127.0.0.1:4598, moto on
http://127.0.0.1:4599).
"""

import argparse
import json
import os
import queue
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "/2018-06-01/runtime"
TIMEOUT = 30.0  # seconds allowed for start-up and for each invocation
FUNCTIONS = ("list", "get", "steps", "step", "ingest")
BASELINE = "baseline"
# Targets for a function's median figures as a multiple of the baseline's, measured in the same run.
INIT_TARGET = 1.2
RSS_TARGET = 1.3
# Well-formed (rl_ + 12 hex + 32-character secret) but never issued: one key lookup, then 401.
UNKNOWN_KEY = "rl_0123456789ab_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

FUNCTION_ENV_DEFAULTS = {
    "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:4598",
    "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:4599",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "TABLE_NAME": "runledger",
    "BUCKET_NAME": "runledger-bodies",
    "CURSOR_SECRET": None,  # random per run unless set
    "S3_FORCE_PATH_STYLE": "true",
    "RUST_LOG": "warn",
}


def function_env(name):
    """The environment Lambda would give the process: runtime variables plus function settings.
    Nothing else is inherited, so the measurement does not depend on the caller's shell."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]") + secrets.token_hex(16),
    }
    for key, default in FUNCTION_ENV_DEFAULTS.items():
        value = os.environ.get(key) or default
        if value is None:
            value = secrets.token_hex(32)
            os.environ[key] = value  # the same secret for every function of this run
        env[key] = value
    return env


# --- events -----------------------------------------------------------------------------------

def http_event(route, path, path_parameters, query=None):
    now = datetime.now(UTC)
    query = query or {}
    event = {
        "version": "2.0",
        "routeKey": f"GET {route}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
        "headers": {
            "accept": "application/json",
            "authorization": f"Bearer {UNKNOWN_KEY}",
            "host": "127.0.0.1:9000",
            "user-agent": "runledger-coldstart",
            "x-forwarded-proto": "http",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1:9000",
            "domainPrefix": "127",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "runledger-coldstart",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"GET {route}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "pathParameters": path_parameters,
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    return event


def event_for(name):
    project, execution, step = "bench", str(uuid.uuid4()), str(uuid.uuid4())
    base = f"/v1/projects/{project}/workflow-executions"
    if name == "list":
        return http_event(
            "/v1/projects/{projectId}/workflow-executions",
            base,
            {"projectId": project},
            {"status": "FAILED", "limit": "10"},
        )
    if name == "get":
        return http_event(
            "/v1/projects/{projectId}/workflow-executions/{executionId}",
            f"{base}/{execution}",
            {"projectId": project, "executionId": execution},
        )
    if name == "steps":
        return http_event(
            "/v1/projects/{projectId}/workflow-executions/{executionId}/step-executions",
            f"{base}/{execution}/step-executions",
            {"projectId": project, "executionId": execution},
            {"limit": "10"},
        )
    if name == "step":
        return http_event(
            "/v1/projects/{projectId}/workflow-executions/{executionId}/step-executions/{stepExecutionId}",
            f"{base}/{execution}/step-executions/{step}",
            {"projectId": project, "executionId": execution, "stepExecutionId": step},
        )
    if name == "ingest":
        started = datetime.now(UTC) - timedelta(minutes=5)
        stamp = lambda t: t.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # noqa: E731
        return {
            "events": [
                {
                    "kind": "execution",
                    "projectId": project,
                    "id": execution,
                    "workflowId": "wf-bench",
                    "workflowName": "Cold start bench",
                    "userId": "user-bench",
                    "integration": "bench",
                    "triggerType": "schedule",
                    "traceId": f"trace-{execution}",
                    "status": "SUCCEEDED",
                    "dateStarted": stamp(started),
                    "dateEnded": stamp(started + timedelta(seconds=2)),
                    "taskCount": 1,
                    "input": {"bench": True},
                }
            ]
        }
    if name == BASELINE:
        return {"baseline": True}
    raise SystemExit(f"coldstart: unknown function {name!r}; use one of {', '.join(FUNCTIONS + (BASELINE,))}")


def answer_of(name, outcome):
    """A short account of what one invocation returned."""
    kind, payload = outcome
    if kind != "response":
        text = f"{kind}: {payload.get('errorType', '')} {payload.get('errorMessage', payload)}".strip()
        return text if len(text) <= 200 else text[:197] + "..."
    if name == BASELINE:
        return f"response {json.dumps(payload, separators=(',', ':'))[:80]}"
    if not isinstance(payload, dict):
        return f"unexpected payload {str(payload)[:80]}"
    if name == "ingest":
        rejected = payload.get("rejected") or []
        text = f"accepted={payload.get('accepted')} duplicates={payload.get('duplicates')}"
        if rejected:
            text += f" rejected={len(rejected)} ({rejected[0].get('code')}: {rejected[0].get('message')})"
        return text
    return f"HTTP {payload.get('statusCode')}"


# --- Runtime API --------------------------------------------------------------------------------

class Runtime:
    """State shared by the request handlers and the driver: the events to hand out and what came back."""

    def __init__(self, name):
        self.name = name
        self.events = queue.Queue()  # (request id, body bytes)
        self.results = queue.Queue()  # (request id, kind, payload, monotonic ns)
        self.first_next = threading.Event()
        self.first_next_ns = None
        self.handed_out = {}  # request id -> monotonic ns
        self.stopping = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the runtime client expects
    runtime: Runtime = None

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        try:
            return json.loads(data) if data else None
        except ValueError:
            return data.decode("utf-8", "replace")

    def do_GET(self):
        rt = self.runtime
        if self.path != f"{PREFIX}/invocation/next":
            return self._reply(404, b'{"errorMessage":"not found"}')
        if not rt.first_next.is_set():
            rt.first_next_ns = time.monotonic_ns()
            rt.first_next.set()
        # Long poll, as Lambda does: the request is held until there is an event.
        while True:
            try:
                request_id, body = rt.events.get(timeout=0.2)
                break
            except queue.Empty:
                if rt.stopping.is_set():
                    self.close_connection = True
                    return
        deadline_ms = int(time.time() * 1000 + TIMEOUT * 1000)
        headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:us-east-1:123456789012:function:{rt.name}",
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};"
            f"Parent={secrets.token_hex(8)};Sampled=0",
        }
        rt.handed_out[request_id] = time.monotonic_ns()
        self._reply(200, body, headers)

    def do_POST(self):
        rt = self.runtime
        now = time.monotonic_ns()
        path = self.path
        if path == f"{PREFIX}/init/error":
            rt.results.put((None, "init error", self._body(), now))
            return self._reply(202, b'{"status":"OK"}')
        parts = path[len(PREFIX) + 1:].split("/") if path.startswith(PREFIX + "/") else []
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            kind = "response" if parts[2] == "response" else "invocation error"
            rt.results.put((parts[1], kind, self._body(), now))
            return self._reply(202, b'{"status":"OK"}')
        self._body()
        self._reply(404, b'{"errorMessage":"not found"}')


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # The function's connections drop when it is stopped, possibly mid long poll.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


# --- driver -----------------------------------------------------------------------------------

class Failed(Exception):
    pass


class Interrupted(BaseException):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise Failed("no VmHWM in /proc status")


def stop(proc):
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=3)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def log_tail(path, lines=20):
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def expected_answer(name, answer, outcome):
    """None when the answer is the one intended, else what was expected instead."""
    if name == BASELINE:
        return None if outcome[0] == "response" else "a successful response"
    expected = "accepted=1 duplicates=0" if name == "ingest" else "HTTP 401"
    return None if answer == expected else repr(expected)


def measure(name, binary, warm, log_path):
    """One cold start of binary: its figures and what it answered."""
    rt = Runtime(name)
    handler = type("BoundHandler", (Handler,), {"runtime": rt})
    server = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    env = function_env(name)
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{server.server_address[1]}"
    body = json.dumps(event_for(name)).encode()

    def wait_for(what, event):
        # Blocks on the event rather than polling, so this script takes no CPU from the start-up.
        deadline = time.monotonic() + TIMEOUT
        while not event.wait(0.05):
            if proc.poll() is not None:
                raise Failed(f"{what}: the process exited with status {proc.returncode}")
            if time.monotonic() > deadline:
                raise Failed(f"{what}: nothing after {TIMEOUT:.0f} s")

    def invoke():
        request_id = str(uuid.uuid4())
        rt.events.put((request_id, body))
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                rid, kind, payload, at = rt.results.get(timeout=0.05)
            except queue.Empty:
                if proc.poll() is not None:
                    raise Failed(f"the process exited with status {proc.returncode} during an invocation") from None
                if time.monotonic() > deadline:
                    raise Failed(f"no response within {TIMEOUT:.0f} s") from None
                continue
            if kind == "init error":
                raise Failed(f"init error: {payload}")
            if rid != request_id:
                raise Failed(f"response for unknown request {rid}")
            return (at - rt.handed_out[request_id]) / 1e6, (kind, payload)

    with open(log_path, "wb") as log:
        started = time.monotonic_ns()
        proc = subprocess.Popen([str(binary)], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        wait_for("start-up", rt.first_next)
        init_ms = (rt.first_next_ns - started) / 1e6
        first_ms, first = invoke()
        warm_runs = [invoke() for _ in range(warm)]
        rss_kib = peak_rss_kib(proc.pid)
        if proc.poll() is not None:
            raise Failed(f"the process exited with status {proc.returncode}")
    except Failed as e:
        tail = log_tail(log_path)
        raise Failed(f"{e}" + (f"\n--- {log_path} (last lines) ---\n{tail}" if tail else "")) from None
    finally:
        rt.stopping.set()
        stop(proc)
        server.shutdown()
        server.server_close()

    answer = answer_of(name, first)
    expected = expected_answer(name, answer, first)
    unexpected = None if expected is None else f"answered {answer!r}, expected {expected}; see {log_path}"
    warm_answers = sorted({answer_of(name, outcome) for _, outcome in warm_runs})
    if warm_answers and warm_answers != [answer]:
        answer += f" (repeats: {'; '.join(warm_answers)})"
    return {
        "init_ms": init_ms,
        "first_ms": first_ms,
        "warm_ms": [ms for ms, _ in warm_runs],
        "rss_kib": rss_kib,
        "answer": answer,
        "unexpected": unexpected,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("functions", nargs="*", default=list(FUNCTIONS) + [BASELINE])
    parser.add_argument("--bin-dir", type=Path, help="directory with the binaries (default: target/release)")
    parser.add_argument("--warm", type=int, default=21, help="warm invocations after the first (default 21)")
    parser.add_argument("--runs", type=int, default=15, help="cold starts of each binary (default 15)")
    parser.add_argument("--log-dir", type=Path, default=ROOT / ".local", help="function output goes here")
    args = parser.parse_args()
    bin_dir = args.bin_dir or Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "release"
    args.log_dir.mkdir(parents=True, exist_ok=True)

    # A TERM or INT (Ctrl-C, a parent's trap) unwinds through the finally blocks, so the function
    # process never outlives this script; then the script dies of that signal, as callers expect.
    def interrupted(signum, _frame):
        for sig in (signal.SIGTERM, signal.SIGINT):  # a second signal must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        raise Interrupted(signum)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    try:
        return run(args, bin_dir)
    except Interrupted as e:
        signal.signal(e.signum, signal.SIG_DFL)
        os.kill(os.getpid(), e.signum)
        raise SystemExit(128 + e.signum) from None


def run(args, bin_dir):
    failed = False
    names = []
    for name in dict.fromkeys(args.functions):  # in order, once each
        event_for(name)  # an unknown name stops here, before anything runs
        if os.access(bin_dir / name, os.X_OK):
            names.append(name)
        else:
            print(f"coldstart {name}: no executable {bin_dir / name}", file=sys.stderr)
            failed = True

    # Round-robin: one cold start of each binary per round, the order rotating by one each round.
    # A binary that fails once is dropped from the later rounds.
    samples = {name: [] for name in names}
    live = list(names)
    for round_no in range(max(args.runs, 1)):
        shift = round_no % len(live) if live else 0
        for name in live[shift:] + live[:shift]:
            try:
                sample = measure(name, bin_dir / name, args.warm, args.log_dir / f"coldstart-{name}.log")
            except Failed as e:
                print(f"coldstart {name}: failed (cold start {round_no + 1}): {e}", file=sys.stderr, flush=True)
                failed = True
                samples[name] = []
                continue
            samples[name].append(sample)
        live = [name for name in live if samples[name]]

    medians = {}
    for name in names:
        runs = samples[name]
        if not runs:
            continue
        init = [r["init_ms"] for r in runs]
        rss = [r["rss_kib"] / 1024 for r in runs]
        warm = [ms for r in runs for ms in r["warm_ms"]]
        warm_ms = statistics.median(warm) if warm else float("nan")
        medians[name] = (statistics.median(init), statistics.median(rss))
        answers = list(dict.fromkeys(r["answer"] for r in runs))
        print(
            f"coldstart {name}: init {medians[name][0]:.1f} ms, "
            f"first invocation {statistics.median(r['first_ms'] for r in runs):.1f} ms, "
            f"warm median {warm_ms:.1f} ms, peak RSS {medians[name][1]:.1f} MiB, answer {'; '.join(answers)}"
            f"  [{len(runs)} cold starts: init {min(init):.1f}-{max(init):.1f} ms, "
            f"peak RSS {min(rss):.1f}-{max(rss):.1f} MiB]",
            flush=True,
        )
        unexpected = next((r["unexpected"] for r in runs if r["unexpected"]), None)
        if unexpected:
            # The figures above then measure an error path, not the one intended.
            print(f"coldstart {name}: failed: {unexpected}", file=sys.stderr, flush=True)
            failed = True

    functions = [name for name in names if name != BASELINE]
    if BASELINE in args.functions and functions:
        if BASELINE not in medians:
            print("coldstart ratio: no baseline figures, so no ratios", file=sys.stderr, flush=True)
        else:
            missed = 0
            base_init, base_rss = medians[BASELINE]
            for name in functions:
                if name not in medians:
                    print(f"coldstart ratio {name}: no figures", flush=True)
                    continue
                parts = []
                for label, value, base, target in (
                    ("init", medians[name][0], base_init, INIT_TARGET),
                    ("peak RSS", medians[name][1], base_rss, RSS_TARGET),
                ):
                    ratio = round(value / base, 2)  # judged as printed
                    met = ratio <= target
                    missed += not met
                    parts.append(f"{label} {ratio:.2f}x (target <= {target}x, {'met' if met else 'NOT met'})")
                print(f"coldstart ratio {name}: {', '.join(parts)}", flush=True)
            print(
                f"coldstart ratio: baseline medians init {base_init:.1f} ms, peak RSS {base_rss:.1f} MiB; "
                + (f"{missed} target(s) NOT met" if missed else "all targets met"),
                flush=True,
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
