#!/usr/bin/env python3
"""The table's stream to its Lambda consumers, for the local stack, as an event source mapping does.

DynamoDB Local keeps the table's stream (the view the template declares) but delivers it to no
function. This reads it through the DynamoDB Streams API (DescribeStream, GetShardIterator,
GetRecords, following each shard's NextShardIterator and reading a parent shard before its children)
and hands its records to every function infra/template.yaml maps to
the table's stream, through the Lambda Invoke API, with that mapping's FilterCriteria and BatchSize.
Like the mapping it sends, with a tumbling window, the shard id in every event; a batch answered
with batchItemFailures is delivered again from the lowest failed record (after --retries attempts
it goes to .local/<name>/failed/, the failure destination) and the shard's position advances only
past what every consumer took.

DynamoDB Local deletes expired items itself, but its stream names those deletions
UNKNOWN_TO_SDK_VERSION, without the service identity AWS gives them: the pump hands them on as AWS
sends them (REMOVE by dynamodb.amazonaws.com), so the archive's filter passes them. Deletions by
ttl_sweep.py (TTL as if at a later time) are a user's to the emulator, which the filter drops: the
sweep hands those to the archive itself.

State in .local/<name>/: `position` (the stream and the last sequence number handed on in each of
its shards) and `drained` (epoch seconds of the last poll that found nothing new: everything
written before it has been delivered). While a file `hold` there is younger than 60 s, nothing is
delivered: tests hold the stream back to see what readers answer while the consumers trail. A new
pump on the same stream resumes after `position`; on a new stream it starts from the oldest record.
Consumers skip what they took in already.

Usage: scripts/stream_pump.py [--name stream-pump] [--once]
Environment: AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_DYNAMODB_STREAMS (or AWS_ENDPOINT_URL),
AWS_REGION, TABLE_NAME, and RUNLEDGER_INVOKE_URL or PUBLIC_BASE_URL.
"""

import argparse
import base64
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

from provision import load_template, local_endpoint

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"


def stream_json(value):
    """An attribute value from boto3's low-level client as DynamoDB JSON, as the stream sends it."""
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64encode(bytes(inner)).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(bytes(b)).decode() for b in inner]}
    if kind == "M":
        return {"M": {k: stream_json(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [stream_json(v) for v in inner]}
    return {kind: inner}


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


# DynamoDB Local deletes TTL-expired items (within seconds here) but names the stream record
# UNKNOWN_TO_SDK_VERSION (its Java SDK's placeholder for a value it has no name for) and gives it
# no userIdentity. AWS sends such a deletion as a REMOVE by the DynamoDB service.
DDB_LOCAL_TTL_EVENT = "UNKNOWN_TO_SDK_VERSION"
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def lambda_record(raw, stream_arn):
    """A GetRecords record as Lambda hands it to a function."""
    raw = dict(raw)
    if (raw.get("eventName") == DDB_LOCAL_TTL_EVENT
            and "OldImage" in raw["dynamodb"] and "NewImage" not in raw["dynamodb"]):
        raw["eventName"] = "REMOVE"
        raw["userIdentity"] = TTL_IDENTITY
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


class Shards:
    """Where reading stands in each shard of the stream: its iterator (kept between polls, as a
    mapping's poller keeps it), the last sequence number handed on, and whether a closed shard has
    been read to its end. A child shard is read only after its parent, so records of one item
    arrive in order across a shard split or roll-over."""

    def __init__(self, streams, stream_arn):
        self.streams = streams
        self.arn = stream_arn
        self.iterators = {}
        self.last = {}
        self.finished = set()

    def describe(self):
        shards, start = [], None
        while True:
            args = {"StreamArn": self.arn, **({"ExclusiveStartShardId": start} if start else {})}
            desc = self.streams.describe_stream(**args)["StreamDescription"]
            shards += desc["Shards"]
            start = desc.get("LastEvaluatedShardId")
            if not start:
                return shards

    def readable(self):
        shards = self.describe()
        known = {s["ShardId"] for s in shards}
        return [
            s["ShardId"]
            for s in shards
            if s["ShardId"] not in self.finished
            and (s.get("ParentShardId") not in known or s.get("ParentShardId") in self.finished)
        ]

    def iterator(self, shard):
        if shard not in self.iterators:
            if shard in self.last:
                it = self.streams.get_shard_iterator(
                    StreamArn=self.arn, ShardId=shard, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                    SequenceNumber=self.last[shard],
                )
            else:
                it = self.streams.get_shard_iterator(
                    StreamArn=self.arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON",
                )
            self.iterators[shard] = it["ShardIterator"]
        return self.iterators[shard]

    def read(self, shard, limit=1000):
        """The next records of a shard (possibly none)."""
        try:
            out = self.streams.get_records(ShardIterator=self.iterator(shard), Limit=limit)
        except self.streams.exceptions.ExpiredIteratorException:
            # Iterators live 15 minutes; a new one resumes after the last record handed on.
            del self.iterators[shard]
            out = self.streams.get_records(ShardIterator=self.iterator(shard), Limit=limit)
        nxt = out.get("NextShardIterator")
        if nxt:
            self.iterators[shard] = nxt
        else:
            self.iterators.pop(shard, None)
            if not out["Records"]:
                self.finished.add(shard)
        return out["Records"]


# A hold left behind by a test that died ends by itself.
HOLD_MAX_SECONDS = 60


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="stream-pump")
    parser.add_argument("--retries", type=int, default=5)
    parser.add_argument("--interval", type=float, default=0.3)
    parser.add_argument("--once", action="store_true", help="deliver what is there, then stop")
    args = parser.parse_args()

    url = os.environ.get("RUNLEDGER_INVOKE_URL") or os.environ.get("PUBLIC_BASE_URL")
    if not url or not local_endpoint("dynamodb"):
        sys.exit("stream_pump: set the local endpoints and RUNLEDGER_INVOKE_URL (run via make dev)")
    region = os.environ.get("AWS_REGION", "us-east-1")
    table = os.environ.get("TABLE_NAME", "runledger")
    cfg = Config(retries={"max_attempts": 5, "mode": "standard"})
    # The SDK's endpoint variables name the emulator (AWS_ENDPOINT_URL_DYNAMODB_STREAMS for streams).
    dynamodb = boto3.client("dynamodb", region_name=region, config=cfg)
    streams = boto3.client("dynamodbstreams", region_name=region, config=cfg)
    mappings = consumers(load_template(TEMPLATE))
    state = ROOT / ".local" / args.name
    state.mkdir(parents=True, exist_ok=True)
    position_file = state / "position"
    (state / "drained").unlink(missing_ok=True)
    stream_arn = dynamodb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
    if not stream_arn:
        sys.exit(f"stream_pump: table {table} has no stream")
    shards = Shards(streams, stream_arn)
    # On the same stream (a table kept on disk), after what was handed on before; on a new one,
    # from its start. Either way the consumers skip what they took in already.
    try:
        saved = json.loads(position_file.read_text())
        if saved.get("stream") == stream_arn:
            shards.last = dict(saved.get("shards") or {})
    except (OSError, ValueError):
        pass
    log(started=True, consumers=[m[0] for m in mappings], stream=stream_arn, resumed=shards.last)

    hold = state / "hold"
    while True:
        try:
            held = time.time() - hold.stat().st_mtime < HOLD_MAX_SECONDS
        except OSError:
            held = False
        if held:
            time.sleep(args.interval)
            continue
        polled_at = time.time()
        delivered, read_any, finished = 0, False, len(shards.finished)
        for shard_id in shards.readable():
            raw = shards.read(shard_id)
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
            shards.last[shard_id] = position
            position_file.write_text(json.dumps({"stream": stream_arn, "shards": shards.last}))
            log(shard=shard_id, records=len(records), delivered=delivered, position=position)
        # A shard read to its end lets its children be read: not drained until they are polled too.
        if not read_any and len(shards.finished) == finished:
            (state / "drained").write_text(str(polled_at))
            if args.once:
                return
            time.sleep(args.interval)


if __name__ == "__main__":
    main()
