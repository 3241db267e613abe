#!/usr/bin/env python3
"""Measure the sustained ingest rate of a running stack with the hot project's shape, and that
nothing is lost.

Sends N executions of one project (start, 5 steps with 1 KB inputs, end: 7 events each, dated
now) to the `ingest` function with the Lambda Invoke API, 100 events an invocation, from C senders
at once, as producers would. Then reads the project's exact total through the API (`count=true`)
until it equals N. Prints the events a second ingest sustained and the executions found.

Usage: scripts/ingest_rate.py --key KEY [--project P] [--executions 2000] [--senders 4]
                              [--url http://127.0.0.1:9000]  (the stack's Invoke API and routes)
"""

import argparse
import json
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config

EVENTS_PER_INVOKE = 100
STEPS = 5


def at(start, seconds):
    return (start + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lifecycle(project, n, start):
    eid = f"rate-{uuid.uuid4()}"

    def t(s):
        return at(start, s)

    base = {"projectId": project, "id": eid, "workflowId": "wf-hot", "userId": f"user-{n % 50}",
            "integration": "salesforce", "triggerType": "webhook"}
    events = [{"kind": "execution", **base, "status": "RUNNING", "dateStarted": t(0)}]
    for s in range(STEPS):
        events.append({"kind": "step", "projectId": project, "executionId": eid, "id": f"s{s}",
                       "stepName": f"step {s}", "status": "SUCCEEDED", "dateStarted": t(s + 1),
                       "dateEnded": t(s + 2), "input": {"blob": "x" * 1000}})
    events.append({"kind": "execution", **base, "status": "SUCCEEDED", "dateStarted": t(0),
                   "dateEnded": t(STEPS + 2)})
    return events


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--key", required=True)
    ap.add_argument("--project", default=f"rate-{int(time.time())}")
    ap.add_argument("--executions", type=int, default=2000)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--url", default="http://127.0.0.1:9000")
    args = ap.parse_args()
    invoke_url = api_url = args.url.rstrip("/")

    start = datetime.now(UTC) - timedelta(minutes=1)
    # Phases apart, as an execution's events arrive: every start first, then steps, then ends.
    lives = [lifecycle(args.project, n, start) for n in range(args.executions)]
    phases = [[life[p] for life in lives] for p in range(STEPS + 2)]
    events = sum(len(p) for p in phases)

    lam = boto3.client("lambda", endpoint_url=invoke_url, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test",
                       config=Config(read_timeout=300, retries={"max_attempts": 1},
                                     max_pool_connections=max(10, args.senders)))

    def send(batch):
        # Ingest is idempotent: a batch whose answer was lost is sent again.
        for attempt in range(3):
            try:
                resp = lam.invoke(FunctionName="ingest", Payload=json.dumps({"events": batch}).encode())
                body = json.loads(resp["Payload"].read())
                if resp.get("FunctionError") or body.get("rejected"):
                    sys.exit(f"ingest_rate: ingest refused a batch: {str(body)[:500]}")
                return body.get("accepted", 0) + body.get("duplicates", 0)
            except OSError:
                if attempt == 2:
                    raise
        return 0

    began = time.monotonic()
    stored = 0
    # One phase at a time: every start, then each step, then every end.
    with ThreadPoolExecutor(args.senders) as pool:
        for phase in phases:
            batches = [phase[i:i + EVENTS_PER_INVOKE] for i in range(0, len(phase), EVENTS_PER_INVOKE)]
            stored += sum(pool.map(send, batches))
    seconds = time.monotonic() - began

    found, deadline = -1, time.monotonic() + 120
    url = f"{api_url}/v1/projects/{args.project}/workflow-executions?count=true&limit=1"
    while time.monotonic() < deadline:
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {args.key}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            found = json.loads(r.read())["total"]
        if found == args.executions:
            break
        time.sleep(2)
    lost = args.executions - found
    print(json.dumps({"executions": args.executions, "events": events, "accepted": stored,
                      "seconds": round(seconds, 1), "eventsPerSecond": round(events / seconds),
                      "executionsPerSecond": round(args.executions / seconds, 1), "senders": args.senders,
                      "found": found, "lost": lost}))
    sys.exit(1 if lost or stored != events else 0)


if __name__ == "__main__":
    main()
