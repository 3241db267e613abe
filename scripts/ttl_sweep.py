#!/usr/bin/env python3
"""One sweep of DynamoDB's Time to Live, as it would run at --now, for the local stack.

DynamoDB Local never deletes expired items, and its deletions carry no TTL identity, so this does
both the way AWS does: it deletes every item whose expiry (the table's TTL attribute) is at or before
--now, each deletion conditioned on the item still being expired (the store does that: `runledger ttl
expire`, run with `cargo run`), and hands the deletions, as stream records
of the DynamoDB service (userIdentity type Service, principal dynamodb.amazonaws.com, OldImage), to
the `archive` function through the Lambda Invoke API in batches, as an event source mapping would:
a batch whose answer lists batchItemFailures is delivered again from the lowest failed record, up
to --retries times, then recorded in .local/ttl-sweep/failed/ (the failure destination).

Every batch sent is kept in .local/ttl-sweep/last/; --replay sends the last sweep's batches again
(the archive must then write nothing new). Prints what it deleted and what the archive holds.

Usage: scripts/ttl_sweep.py --now 2027-03-01T00:00:00Z [--project P] [--batch-size 100] [--replay]
Environment: the local endpoints (AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_S3, or
AWS_ENDPOINT_URL), AWS_REGION, TABLE_NAME, BUCKET_NAME, and RUNLEDGER_INVOKE_URL or
PUBLIC_BASE_URL (the address serving the Lambda Invoke API).
"""

import argparse
import collections
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import boto3
from botocore.config import Config

from provision import has_local_endpoints, local_endpoint

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".local" / "ttl-sweep"


def when(text):
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def expire(now, project, env):
    """Deletes what has expired at `now` as TTL would, through the store (`runledger ttl expire`):
    each deleted item's kind, project, keys and old image (DynamoDB JSON)."""
    argv = ["cargo", "run", "-q", "--bin", "runledger", "--", "ttl", "expire", "--now", now]
    if project:
        argv += ["--project", project]
    out = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if out.returncode:
        sys.exit(f"ttl-sweep: runledger ttl expire failed ({out.returncode})")
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--now", help="RFC 3339 instant the sweep runs at (required unless --replay)")
    parser.add_argument("--project", help="sweep only this project's items (real TTL has no such filter)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--retries", type=int, default=3)
    parser.add_argument("--replay", action="store_true", help="send the last sweep's batches again")
    args = parser.parse_args()
    if not args.now and not args.replay:
        parser.error("--now is required")

    region = os.environ.get("AWS_REGION", "us-east-1")
    table = os.environ.get("TABLE_NAME", "runledger")
    bucket = os.environ.get("BUCKET_NAME", "runledger-bodies")
    invoke_url = os.environ.get("RUNLEDGER_INVOKE_URL") or os.environ.get("PUBLIC_BASE_URL")
    if not invoke_url or not has_local_endpoints():
        sys.exit("ttl-sweep: no stack: run make dev first (needs the local endpoints and the invoke address)")
    creds = {"region_name": region, "aws_access_key_id": os.environ.get("AWS_ACCESS_KEY_ID", "test"),
             "aws_secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY", "test")}
    s3 = boto3.client("s3", endpoint_url=local_endpoint("s3"), **creds)
    lam = boto3.client("lambda", endpoint_url=invoke_url, **creds,
                       config=Config(read_timeout=300, connect_timeout=10, retries={"max_attempts": 1}))

    last = STATE / "last"
    if args.replay:
        files = sorted(last.glob("*.json"))
        if not files:
            sys.exit("ttl-sweep: no earlier sweep to replay")
        batches = [json.loads(f.read_text()) for f in files]
        print(f"replaying {len(batches)} batch(es) of the last sweep")
    else:
        now = int(when(args.now).timestamp())
        # Sequence numbers increase across sweeps, like a stream's, so batches never share a name.
        base = time.time_ns() // 1000
        records, kinds = [], collections.Counter()
        # The store reads the same settings, with the same defaults, from the environment.
        env = {**os.environ, "AWS_REGION": region, "TABLE_NAME": table, "BUCKET_NAME": bucket,
               "AWS_ACCESS_KEY_ID": creds["aws_access_key_id"], "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"]}
        for d in expire(when(args.now).isoformat(), args.project, env):
            kinds[d["kind"]] += 1
            records.append({
                "eventID": uuid.uuid4().hex, "eventName": "REMOVE", "eventVersion": "1.1",
                "eventSource": "aws:dynamodb", "awsRegion": region,
                "dynamodb": {"ApproximateCreationDateTime": now, "Keys": d["keys"], "OldImage": d["oldImage"],
                             "SequenceNumber": f"{base + len(records):024d}", "SizeBytes": 0,
                             "StreamViewType": "NEW_AND_OLD_IMAGES"},
                "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
                "eventSourceARN": f"arn:aws:dynamodb:{region}:000000000000:table/{table}/stream/local",
            })
        summary = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in sorted(kinds.items())) or "nothing"
        print(f"ttl-sweep at {args.now}: deleted {len(records)} expired items ({summary})")
        batches = [{"Records": records[i:i + args.batch_size]} for i in range(0, len(records), args.batch_size)]
        shutil.rmtree(last, ignore_errors=True)
        last.mkdir(parents=True, exist_ok=True)
        for b in batches:
            (last / f"{b['Records'][0]['dynamodb']['SequenceNumber']}.json").write_text(json.dumps(b))

    before = archive_objects(s3, bucket)
    failed = 0
    for batch in batches:
        pending = batch
        for attempt in range(args.retries + 1):
            resp = lam.invoke(FunctionName="archive", Payload=json.dumps(pending).encode())
            body = json.loads(resp["Payload"].read() or b"{}")
            failures = body.get("batchItemFailures") if not resp.get("FunctionError") else [{}]
            if not failures:
                break
            # As an event source mapping does: deliver again from the lowest reported record.
            seqs = [f.get("itemIdentifier") for f in failures if f.get("itemIdentifier")]
            start = min(seqs) if seqs else pending["Records"][0]["dynamodb"]["SequenceNumber"]
            pending = {"Records": [r for r in pending["Records"] if r["dynamodb"]["SequenceNumber"] >= start]}
            print(f"  archive asked for {len(pending['Records'])} record(s) again (attempt {attempt + 1})")
        else:
            failed += 1
            dest = STATE / "failed"
            dest.mkdir(parents=True, exist_ok=True)
            (dest / f"{pending['Records'][0]['dynamodb']['SequenceNumber']}.json").write_text(json.dumps(pending))
            print(f"  batch kept failing; recorded in {dest}")
    after = archive_objects(s3, bucket)
    new = {k: v for k, v in after.items() if before.get(k) != v}
    rows = sum(count_rows(s3, bucket, k) for k in new)
    print(f"archive: {len(batches)} batch(es) delivered, {failed} failed; {len(new)} object(s) written or changed "
          f"({rows} rows), {len(after)} archive objects in s3://{bucket}/archive/")
    for k in sorted(new)[:20]:
        print(f"  s3://{bucket}/{k}")
    if failed:
        sys.exit(1)


def archive_objects(s3, bucket):
    """archive/ object keys with their ETags."""
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="archive/"):
        for o in page.get("Contents", []):
            out[o["Key"]] = o["ETag"]
    return out


def count_rows(s3, bucket, key):
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return sum(1 for line in gzip.decompress(data).splitlines() if line.strip())


if __name__ == "__main__":
    main()
