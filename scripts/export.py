#!/usr/bin/env python3
"""Runs an on-demand export through the `export` function's Lambda Invoke API and prints the
manifest of each day it wrote (rows, bytes and SHA-256 of every part).

The range is widened to whole UTC days: each day's folder is replaced by that whole day. Exports run
one at a time (the function's reserved concurrency is 1); while another runs, this waits and asks
again.

Usage: scripts/export.py --project P --after 2026-11-01 --before 2026-11-27 [--format jsonl]
Environment: RUNLEDGER_INVOKE_URL or PUBLIC_BASE_URL (the address serving the Invoke API), AWS_REGION.
"""

import argparse
import json
import os
import sys
import time

import boto3
from botocore.config import Config


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--after", required=True)
    parser.add_argument("--before", required=True)
    parser.add_argument("--format", default=None)
    args = parser.parse_args()
    url = os.environ.get("RUNLEDGER_INVOKE_URL") or os.environ.get("PUBLIC_BASE_URL")
    if not url:
        sys.exit("export: no stack: run make dev first")
    lam = boto3.client("lambda", endpoint_url=url, region_name=os.environ.get("AWS_REGION", "us-east-1"),
                       aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
                       aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
                       config=Config(read_timeout=900, connect_timeout=10, retries={"max_attempts": 1}))
    payload = {"projectId": args.project, "afterDate": args.after, "beforeDate": args.before}
    if args.format:
        payload["format"] = args.format
    waited = 0
    while True:
        try:
            resp = lam.invoke(FunctionName="export", Payload=json.dumps(payload).encode())
            break
        except lam.exceptions.TooManyRequestsException:
            if waited >= 900:
                sys.exit("export: another export kept running for 15 minutes; try again later")
            if waited == 0:
                print("export: another export is running; waiting for it", file=sys.stderr)
            time.sleep(10)
            waited += 10
    body = json.loads(resp["Payload"].read() or b"{}")
    if resp.get("FunctionError") or "errorType" in body:
        sys.exit(f"export failed: {body.get('errorType')}: {body.get('errorMessage')}")
    manifests = body.get("manifests", [])
    print(json.dumps(manifests, indent=2))
    rows = sum(m["rows"] for m in manifests)
    parts = sum(len(m["parts"]) for m in manifests)
    print(f"export of {args.project} [{args.after}, {args.before}) as whole days: {len(manifests)} day(s), "
          f"{parts} part(s), {rows} rows", file=sys.stderr)
    kept = body.get("keptDays", [])
    if kept:
        print(f"kept as they were (their records have begun to expire): {', '.join(kept)}", file=sys.stderr)


if __name__ == "__main__":
    main()
