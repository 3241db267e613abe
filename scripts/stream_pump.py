#!/usr/bin/env python3
"""The table's stream to its Lambda consumers, for the local stack, as an event source mapping does.

moto keeps a DynamoDB stream but delivers it to no function. This reads it (DescribeStream,
GetShardIterator, GetRecords) and hands its records to every function infra/template.yaml maps to
the table's stream, through the Lambda Invoke API, with that mapping's FilterCriteria and BatchSize.
Like the mapping it sends, with a tumbling window, the shard id in every event; a batch answered
with batchItemFailures is delivered again from the lowest failed record (after --retries attempts
it goes to .local/<name>/failed/, the failure destination) and the shard's position advances only
past what every consumer took.

moto's own deletions (ttl_sweep.py) carry no service identity, so the archive's filter passes none
of them: the sweep hands TTL deletions to the archive itself.

State in .local/<name>/: `position` (last sequence number handed on) and `drained` (epoch seconds
of the last poll that found nothing new: everything written before it has been delivered). It
starts from the stream's oldest record each time; consumers skip what they took in already.

Usage: scripts/stream_pump.py [--name stream-pump] [--once]
Environment: AWS_ENDPOINT_URL, AWS_REGION, TABLE_NAME, and RUNLEDGER_INVOKE_URL or PUBLIC_BASE_URL.
"""

import argparse
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

from provision import load_template
from ttl_sweep import stream_json

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"


def log(**fields):
    print(json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields}), flush=True)


def consumers(template):
    """(function name, batch size, filter patterns) of every stream mapping in the template."""
    out = []
    for spec in (template.get("Resources") or {}).values():
        if spec.get("Type") != "AWS::Serverless::Function":
            continue
        name = ((spec.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        for event in ((spec.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") != "DynamoDB":
                continue
            props = event.get("Properties") or {}
            filters = ((props.get("FilterCriteria") or {}).get("Filters")) or []
            patterns = [json.loads(f["Pattern"]) for f in filters]
            out.append((name, int(props.get("BatchSize", 100)), patterns))
    return out


def matches(pattern, value):
    """The part of EventBridge pattern matching filter criteria use: lists of exact values or
    {"prefix": ...}, nested objects; every key of the pattern must match."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(k in value and matches(p, value[k]) for k, p in pattern.items())
    if isinstance(pattern, list):
        for p in pattern:
            if isinstance(p, dict) and "prefix" in p:
                if isinstance(value, str) and value.startswith(p["prefix"]):
                    return True
            elif p == value:
                return True
        return False
    return pattern == value


def lambda_record(raw, stream_arn):
    """A GetRecords record as Lambda hands it to a function."""
    data = dict(raw["dynamodb"])
    for image in ("Keys", "NewImage", "OldImage"):
        if image in data:
            data[image] = {k: stream_json(v) for k, v in data[image].items()}
    created = data.get("ApproximateCreationDateTime")
    if hasattr(created, "timestamp"):
        data["ApproximateCreationDateTime"] = int(created.timestamp())
    record = {k: v for k, v in raw.items() if k != "dynamodb"}
    record["dynamodb"] = data
    record["eventSourceARN"] = stream_arn
    return record


def invoke(url, function, event):
    req = urllib.request.Request(
        f"{url}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=600) as resp:
        return json.loads(resp.read() or b"{}")


def deliver(url, function, batch, shard, stream_arn, retries, failed_dir):
    """Delivers one batch until it is taken whole; redelivers from the lowest failed record."""
    pending = batch
    for attempt in range(retries + 1):
        event = {
            "Records": pending,
            "shardId": shard,
            "eventSourceARN": stream_arn,
            "window": {"start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "end": None},
            "state": {},
            "isFinalInvokeForWindow": False,
            "isWindowTerminatedEarly": False,
        }
        try:
            answer = invoke(url, function, event)
        except Exception as e:  # a function error: the mapping retries the whole batch
            log(function=function, error=str(e), attempt=attempt)
            time.sleep(min(2**attempt, 30))
            continue
        failures = [f.get("itemIdentifier") for f in answer.get("batchItemFailures") or []]
        if not failures:
            return True
        seqs = [r["dynamodb"]["SequenceNumber"] for r in pending]
        lowest = min((seqs.index(f) for f in failures if f in seqs), default=0)
        pending = pending[lowest:]
        log(function=function, redeliver_from=seqs[lowest], attempt=attempt)
        time.sleep(min(2**attempt, 30))
    failed_dir.mkdir(parents=True, exist_ok=True)
    (failed_dir / f"{function}-{pending[0]['dynamodb']['SequenceNumber']}.json").write_text(json.dumps(pending))
    log(function=function, failed_batch=len(pending))
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="stream-pump")
    parser.add_argument("--retries", type=int, default=5)
    parser.add_argument("--interval", type=float, default=0.3)
    parser.add_argument("--once", action="store_true", help="deliver what is there, then stop")
    args = parser.parse_args()

    url = os.environ.get("RUNLEDGER_INVOKE_URL") or os.environ.get("PUBLIC_BASE_URL")
    if not url or not os.environ.get("AWS_ENDPOINT_URL"):
        sys.exit("stream_pump: set AWS_ENDPOINT_URL and RUNLEDGER_INVOKE_URL (run via make dev)")
    region = os.environ.get("AWS_REGION", "us-east-1")
    table = os.environ.get("TABLE_NAME", "runledger")
    cfg = Config(retries={"max_attempts": 5, "mode": "standard"})
    dynamodb = boto3.client("dynamodb", region_name=region, config=cfg)
    streams = boto3.client("dynamodbstreams", region_name=region, config=cfg)
    mappings = consumers(load_template(TEMPLATE))
    state = ROOT / ".local" / args.name
    state.mkdir(parents=True, exist_ok=True)
    position_file = state / "position"
    # From the stream's start every time: the consumers skip what they took in already.
    position = None
    (state / "drained").unlink(missing_ok=True)
    log(started=True, consumers=[m[0] for m in mappings], position=position)

    while True:
        stream_arn = dynamodb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
        if not stream_arn:
            sys.exit(f"stream_pump: table {table} has no stream")
        polled_at = time.time()
        shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        delivered, read_any = 0, False
        for shard in shards:
            shard_id = shard["ShardId"]
            if position:
                it = streams.get_shard_iterator(
                    StreamArn=stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                    SequenceNumber=position,
                )
            else:
                it = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")
            raw = streams.get_records(ShardIterator=it["ShardIterator"], Limit=1000)["Records"]
            if not raw:
                continue
            read_any = True
            records = [lambda_record(r, stream_arn) for r in raw]
            for function, size, patterns in mappings:
                mine = [r for r in records if not patterns or any(matches(p, r) for p in patterns)]
                for i in range(0, len(mine), size):
                    deliver(url, function, mine[i : i + size], shard_id, stream_arn, args.retries, state / "failed")
                delivered += len(mine)
            position = records[-1]["dynamodb"]["SequenceNumber"]
            position_file.write_text(position)
            log(records=len(records), delivered=delivered, position=position)
        if not read_any:
            (state / "drained").write_text(str(polled_at))
            if args.once:
                return
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
