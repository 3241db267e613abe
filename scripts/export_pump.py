#!/usr/bin/env python3
"""The export units queue to the export worker, for the local stack, as the event source mapping does.

moto keeps the ExportUnits queue (FIFO, provisioned by provision.py) but delivers it to no function.
This polls it (ReceiveMessage, one message at a time, so two units of one project day never run at
once, as the queue's message groups ensure on AWS) and hands each message to the `export_worker`
function through the Lambda Invoke API, as an SQS event of one record. A message the worker answers
with batchItemFailures, or that fails the invocation, is made visible again after a pause (delivered
again, as on AWS after the visibility timeout); after --retries receives it is moved to
.local/<name>/failed/ (the dead-letter queue). A message the worker took is deleted.

State in .local/<name>/: `drained` (epoch seconds of the last poll that found the queue empty with
nothing in flight: every unit queued before it has been handed on).

Usage: scripts/export_pump.py [--name export-pump] [--once]
Environment: AWS_ENDPOINT_URL_SQS, AWS_REGION, EXPORT_QUEUE_URL, and RUNLEDGER_INVOKE_URL or
PUBLIC_BASE_URL.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
WORKER = "export_worker"


def invoke(url, event):
    req = urllib.request.Request(
        f"{url}/2015-03-31/functions/{WORKER}/invocations",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=900) as resp:
        return json.loads(resp.read() or b"{}")


def as_event(message, queue_arn):
    """One message as the event source mapping hands it to a function."""
    return {"Records": [{
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": os.environ.get("AWS_REGION", "us-east-1"),
    }]}


def taken(url, message, queue_arn):
    """Whether the worker took the message (answered without naming it a failure)."""
    try:
        answer = invoke(url, as_event(message, queue_arn))
    except (urllib.error.URLError, TimeoutError, ValueError) as e:
        print(f"export_pump: invoking {WORKER} failed: {e}", file=sys.stderr, flush=True)
        return False
    if "errorType" in answer:
        print(f"export_pump: {WORKER}: {answer.get('errorType')}: {answer.get('errorMessage')}",
              file=sys.stderr, flush=True)
        return False
    return not answer.get("batchItemFailures")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="export-pump")
    parser.add_argument("--retries", type=int, default=5)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--once", action="store_true", help="stop at the first empty poll")
    args = parser.parse_args()
    url = os.environ.get("RUNLEDGER_INVOKE_URL") or os.environ.get("PUBLIC_BASE_URL")
    queue = os.environ.get("EXPORT_QUEUE_URL")
    if not url or not queue:
        sys.exit("export_pump: set EXPORT_QUEUE_URL and RUNLEDGER_INVOKE_URL (run through make dev)")
    state = ROOT / ".local" / args.name
    (state / "failed").mkdir(parents=True, exist_ok=True)
    (state / "drained").unlink(missing_ok=True)
    sqs = boto3.client("sqs", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_SQS"),
                       region_name=os.environ.get("AWS_REGION", "us-east-1"))
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    print(f"export_pump: {queue} -> {WORKER} at {url}", file=sys.stderr, flush=True)
    while True:
        polled_at = time.time()
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=1,
                                  AttributeNames=["All"]).get("Messages", [])
        if not got:
            attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
            if int(attrs["Attributes"].get("ApproximateNumberOfMessagesNotVisible", "0")) == 0:
                (state / "drained").write_text(str(polled_at))
                if args.once:
                    return
            time.sleep(args.interval)
            continue
        message = got[0]
        started = time.time()
        if taken(url, message, queue_arn):
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            print(f"export_pump: unit {message['Body']} written in {time.time() - started:.1f} s",
                  file=sys.stderr, flush=True)
            continue
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        if receives >= args.retries:
            (state / "failed" / f"{message['MessageId']}.json").write_text(message["Body"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            print(f"export_pump: unit {message['Body']} failed {receives} times; moved to {state / 'failed'}",
                  file=sys.stderr, flush=True)
        else:
            time.sleep(min(2 ** receives, 30))
            sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=0)


if __name__ == "__main__":
    main()
