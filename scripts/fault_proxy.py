#!/usr/bin/env python3
"""HTTP proxy between the code under test and the emulator, for the fault tests.

It answers a share of requests the way real AWS fails under load: DynamoDB throttling, 500s,
cancelled transactions, unprocessed BatchGetItem keys, responses lost after the write was made,
and S3 500/503. DynamoDB calls (those with an X-Amz-Target header) go to --dynamodb, the rest
(S3) to --s3.

--lose-first-writes makes it deterministic instead: the first response to every conditional write
(a PutItem, UpdateItem or DeleteItem with a ConditionExpression, a TransactWriteItems) is lost
after the write was made, as when a request times out on the client but succeeded on the server;
the SDK's retry of the same request gets the real answer.

Usage: fault_proxy.py --dynamodb http://127.0.0.1:4578 --s3 http://127.0.0.1:4577 [--rate 0.3]
                      [--seed 1] [--lose-first-writes]
Prints "listening on PORT" once ready; GET /__faults answers what was injected so far.
"""
import argparse
import hashlib
import http.client
import http.server
import json
import random
import sys
import threading
import urllib.parse
import zlib

DDB = "com.amazonaws.dynamodb.v20120810#"
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def ddb_error(kind, message, extra=None):
    body = {"__type": DDB + kind, "message": message}
    body.update(extra or {})
    return json.dumps(body).encode()


def is_conditional_write(op, body):
    if op == "TransactWriteItems":
        return True
    if op in ("PutItem", "UpdateItem", "DeleteItem"):
        return "ConditionExpression" in json.loads(body or b"{}")
    return False


class Proxy(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port, dynamodb, s3, rate, seed, lose_first_writes):
        super().__init__(("127.0.0.1", port), Handler)
        self.dynamodb = urllib.parse.urlparse(dynamodb)
        self.s3 = urllib.parse.urlparse(s3)
        self.rate = rate
        self.rng = random.Random(seed)
        self.lose_first_writes = lose_first_writes
        self.lock = threading.Lock()
        self.counts = {}
        self.seen_writes = set()

    def forward(self, method, path, headers, body):
        upstream = self.dynamodb if any(k.lower() == "x-amz-target" for k in headers) else self.s3
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def first_sight(self, body):
        """Whether this exact request body comes for the first time (a retry repeats it)."""
        digest = hashlib.sha256(body).digest()
        with self.lock:
            if digest in self.seen_writes:
                return False
            self.seen_writes.add(digest)
            return True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, headers, body):
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def ddb_reply(self, status, body):
        self.reply(status, [("Content-Type", "application/x-amz-json-1.0")], body)

    def fault(self, name):
        with self.server.lock:
            self.server.counts[name] = self.server.counts.get(name, 0) + 1

    def handle_any(self):
        if self.path == "/__faults":
            # What was injected so far, for the test to check that faults really happened.
            return self.reply(200, [("Content-Type", "application/json")], json.dumps(self.server.counts).encode())
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        # http.client sets Content-Length from the body it sends, which may be a rewritten one.
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("connection", "keep-alive", "content-length", "expect")}
        target = self.headers.get("X-Amz-Target", "")
        op = target.rsplit(".", 1)[-1] if target else "s3"
        rate = self.server.rate
        with self.server.lock:
            r = self.server.rng.random()

        if self.server.lose_first_writes and is_conditional_write(op, body) and self.server.first_sight(body):
            self.fault(f"lost-{op}")
            self.server.forward(self.command, self.path, headers, body)
            return self.ddb_reply(500, ddb_error("InternalServerError", "Internal server error"))

        if target and r < rate:
            share = r / rate
            if share < 0.35:
                self.fault("throttle")
                return self.ddb_reply(
                    400, ddb_error("ThrottlingException", "Rate of requests exceeds the allowed throughput."))
            if share < 0.55:
                self.fault("500")
                return self.ddb_reply(500, ddb_error("InternalServerError", "Internal server error"))
            if share < 0.75:
                # The write happens, the answer is lost: the caller must cope with a retry of a done write.
                self.fault("lost-response")
                self.server.forward(self.command, self.path, headers, body)
                return self.ddb_reply(500, ddb_error("InternalServerError", "Internal server error"))
            if op == "TransactWriteItems":
                self.fault("transaction-throttled")
                items = json.loads(body).get("TransactItems", [])
                reasons = [{"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity."}] + [
                    {"Code": "None"} for _ in items[1:]
                ]
                return self.ddb_reply(400, ddb_error(
                    "TransactionCanceledException",
                    "Transaction cancelled, please refer cancellation reasons for specific reasons [ThrottlingError]",
                    {"CancellationReasons": reasons},
                ))
            if op == "BatchWriteItem":
                self.fault("unprocessed-items")
                return self.partial_batch(headers, body, "RequestItems", "UnprocessedItems", None)
            if op == "BatchGetItem":
                self.fault("unprocessed-keys")
                return self.partial_batch(headers, body, "RequestItems", "UnprocessedKeys", "Keys")
        elif not target and r < rate * 0.5:
            self.fault("s3-error")
            code, status = ("SlowDown", 503) if r < rate * 0.25 else ("InternalError", 500)
            xml = f"<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
            return self.reply(status, [("Content-Type", "application/xml")], xml)

        status, resp_headers, resp_body = self.server.forward(self.command, self.path, headers, body)
        self.reply(status, resp_headers, resp_body)

    def partial_batch(self, headers, body, request_key, unprocessed_key, list_key):
        """Forwards the first half of each table's batch and hands the rest back as unprocessed."""
        request = json.loads(body)
        held = {}
        for table, spec in request[request_key].items():
            entries = spec[list_key] if list_key else spec
            keep = len(entries) // 2
            rest = entries[keep:]
            held[table] = dict(spec, **{list_key: rest}) if list_key else rest
            if list_key:
                spec[list_key] = entries[:keep]
            else:
                request[request_key][table] = entries[:keep]
        def size(v):
            return len(v[list_key]) if list_key else len(v)
        request[request_key] = {t: v for t, v in request[request_key].items() if size(v)}
        if request[request_key]:
            _, _, resp_body = self.server.forward(self.command, self.path, headers, json.dumps(request).encode())
            response = json.loads(resp_body)
        else:
            response = {"Responses": {t: [] for t in held}} if list_key else {}
        response[unprocessed_key] = held
        out = json.dumps(response).encode()
        self.reply(200, [("Content-Type", "application/x-amz-json-1.0"), ("x-amz-crc32", str(zlib.crc32(out)))], out)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dynamodb", required=True, help="DynamoDB endpoint")
    parser.add_argument("--s3", required=True, help="S3 endpoint")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lose-first-writes", action="store_true")
    args = parser.parse_args()
    proxy = Proxy(args.port, args.dynamodb, args.s3, args.rate, args.seed, args.lose_first_writes)
    print(f"listening on {proxy.server_address[1]}", flush=True)
    try:
        proxy.serve_forever()
    finally:
        print(json.dumps(proxy.counts), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
