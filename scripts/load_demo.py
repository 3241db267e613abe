#!/usr/bin/env python3
"""Load demo workflow executions into a running stack through the `ingest` function.

Invokes `ingest` with the Lambda Invoke API, as a producer would, at http://127.0.0.1:9000 (or
$RUNLEDGER_INVOKE_URL): about 300 executions over the last 30 days, each with 1-5 steps.

Usage: scripts/load_demo.py [--project demo] [--executions 300] [--seed N]
"""

import argparse
import json
import os
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone

import boto3
from botocore.config import Config
from botocore.exceptions import ConnectionError as BotoConnectionError, HTTPClientError

MAX_EVENTS_PER_INVOKE = 500

INTEGRATIONS = ["salesforce", "hubspot", "slack", "jira"]
WORKFLOWS = [
    ("wf-1", "Sync leads", "salesforce"),
    ("wf-2", "Enrich contacts", "hubspot"),
    ("wf-3", "Notify channel on deal won", "slack"),
    ("wf-4", "Create issue from ticket", "jira"),
    ("wf-5", "Nightly account sync", "salesforce"),
    ("wf-6", "Post daily digest", "slack"),
    ("wf-7", "Update deal stage", "hubspot"),
    ("wf-8", "Close resolved issues", "jira"),
]
TRIGGERS = ["webhook", "cron", "api", "event"]
STEP_TYPES = ["trigger", "request", "function", "condition", "map", "integration-action"]
STEP_NAMES = [
    "Receive trigger", "Fetch records", "Transform payload", "Check condition",
    "Upsert record", "Send message", "Log result",
]
ERRORS = [
    ("RATE_LIMITED", "Upstream API rate limit exceeded", {"retryAfterSeconds": 30, "status": 429}),
    ("AUTH_EXPIRED", "OAuth token expired and could not be refreshed", {"status": 401}),
    ("VALIDATION_FAILED", "Required field 'email' is missing", {"field": "email", "status": 400}),
    ("TIMEOUT", "Request to upstream timed out after 30000 ms", {"timeoutMs": 30000}),
]


def iso(t):
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def make_execution(rng, project, now):
    workflow_id, workflow_name, integration = rng.choice(WORKFLOWS)
    if rng.random() < 0.2:  # some workflows also run against other integrations
        integration = rng.choice(INTEGRATIONS)
    started = now - timedelta(seconds=rng.uniform(60, 30 * 86400))
    status = rng.choices(["SUCCEEDED", "FAILED", "RUNNING", "CANCELLED"], weights=[80, 14, 3, 3])[0]
    if status == "RUNNING":  # running ones started recently
        started = now - timedelta(seconds=rng.uniform(60, 600))
    exec_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    record_id = rng.randint(1000, 99999)

    steps, t = [], started
    n_steps = rng.randint(1, 5)
    for i in range(n_steps):
        last = i == n_steps - 1
        step_status = "SUCCEEDED"
        if last and status != "SUCCEEDED":
            step_status = status
        begin = t
        t = begin + timedelta(milliseconds=rng.randint(20, 4000))
        step = {
            "kind": "step",
            "projectId": project,
            "executionId": exec_id,
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "stepName": STEP_NAMES[i % len(STEP_NAMES)] if i else "Receive trigger",
            "stepType": "trigger" if i == 0 else rng.choice(STEP_TYPES[1:]),
            "status": step_status,
            "dateStarted": iso(begin),
            "input": {"recordId": record_id, "step": i + 1},
        }
        if step_status != "RUNNING":
            step["dateEnded"] = iso(t)
        if step_status == "SUCCEEDED":
            step["output"] = {"ok": True, "recordId": record_id, "items": rng.randint(0, 50)}
        steps.append(step)

    execution = {
        "kind": "execution",
        "projectId": project,
        "id": exec_id,
        "workflowId": workflow_id,
        "workflowName": workflow_name,
        "userId": f"user-{rng.randint(1, 20)}",
        "integration": integration,
        "triggerType": rng.choice(TRIGGERS),
        "status": status,
        "dateStarted": iso(started),
        "taskCount": n_steps,
        "input": {"recordId": record_id, "source": integration},
    }
    if rng.random() < 0.3:
        execution["traceId"] = f"trace-{rng.randint(1, 40)}"
    if status != "RUNNING":
        execution["dateEnded"] = iso(t)
    if status == "SUCCEEDED":
        execution["output"] = {"ok": True, "recordId": record_id}
        if rng.random() < 0.03:  # a few bodies too large to stay inline (stored in S3 even gzipped)
            execution["output"]["records"] = [
                {"id": f"{rng.getrandbits(128):032x}", "hash": f"{rng.getrandbits(128):032x}"}
                for _ in range(600)
            ]
    if status == "FAILED":
        code, message, details = rng.choice(ERRORS)
        execution["error"] = {"code": code, "message": message, "details": {**details, "recordId": record_id}}
        steps[-1]["error"] = {"code": code, "message": message}
    return [execution, *steps]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="demo")
    parser.add_argument("--executions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=None, help="reproducible content (ids included)")
    parser.add_argument("--dry-run", action="store_true", help="print the envelopes instead of sending them")
    args = parser.parse_args()

    url = os.environ.get("RUNLEDGER_INVOKE_URL", "http://127.0.0.1:9000")
    rng = random.Random(args.seed)
    now = datetime.now(timezone.utc)
    events = [e for _ in range(args.executions) for e in make_execution(rng, args.project, now)]
    batches = [events[i : i + MAX_EVENTS_PER_INVOKE] for i in range(0, len(events), MAX_EVENTS_PER_INVOKE)]
    if args.dry_run:
        for batch in batches:
            print(json.dumps({"events": batch}))
        return

    lam = boto3.client(
        "lambda",
        endpoint_url=url,
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        # An invocation may wait while `cargo lambda watch` (re)builds and starts the function.
        config=Config(read_timeout=300, connect_timeout=10, retries={"max_attempts": 1}),
    )

    def invoke(batch, attempts=3):
        # Ingest is idempotent, so resending a batch whose answer was lost (the watcher restarts
        # functions when sources change, dropping the request in flight) is safe.
        for attempt in range(1, attempts + 1):
            try:
                return lam.invoke(FunctionName="ingest", Payload=json.dumps({"events": batch}).encode())
            except (BotoConnectionError, HTTPClientError) as e:  # refused, closed, timed out
                if attempt == attempts:
                    raise
                print(f"  ingest invocation failed ({e}); retrying", file=sys.stderr)

    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    for n, batch in enumerate(batches):
        start = n * MAX_EVENTS_PER_INVOKE
        resp = invoke(batch)
        body = resp["Payload"].read()
        if resp.get("FunctionError"):
            sys.exit(f"load_demo: ingest failed: {body.decode(errors='replace')[:2000]}")
        result = json.loads(body)
        totals["accepted"] += result.get("accepted", 0)
        totals["duplicates"] += result.get("duplicates", 0)
        for r in result.get("rejected", []):
            totals["rejected"] += 1
            print(f"  rejected event {start + r.get('index', 0)}: {r.get('code')}: {r.get('message')}")

    print(
        f"demo data for project {args.project}: {args.executions} executions, {len(events)} events -> "
        f"accepted {totals['accepted']}, duplicates {totals['duplicates']}, rejected {totals['rejected']}"
    )
    if not totals["accepted"] and not totals["duplicates"]:
        sys.exit("load_demo: ingest accepted nothing")


if __name__ == "__main__":
    main()
