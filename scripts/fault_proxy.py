#!/usr/bin/env python3
"""HTTP proxy between the code under test and the emulator, for the fault tests.

It answers a share of requests the way real AWS fails under load: DynamoDB throttling, 500s,
cancelled transactions, unprocessed BatchGetItem keys, responses lost after the write was made,
and S3 500/503. It also serialises calls to the emulator: moto restores a whole-table snapshot when
it cancels a transaction, which loses writes made concurrently by other requests; real DynamoDB
does not, so tests that race writers go through this proxy (with --rate 0 when they want no faults).

Usage: fault_proxy.py --upstream http://127.0.0.1:4577 [--rate 0.3] [--seed 1]
Prints "listening on PORT" once ready.
"""
import argparse
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


class Proxy(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port, upstream, rate, seed):
        super().__init__(("127.0.0.1", port), Handler)
        self.upstream = urllib.parse.urlparse(upstream)
        self.rate = rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.counts = {}

    def forward(self, method, path, headers, body):
        with self.lock:
            conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.getheaders(), resp.read()
            finally:
                conn.close()


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
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive", "content-length", "expect")}
        target = self.headers.get("X-Amz-Target", "")
        op = target.rsplit(".", 1)[-1] if target else "s3"
        rate = self.server.rate
        with self.server.lock:
            r = self.server.rng.random()

        if target and r < rate:
            share = r / rate
            if share < 0.35:
                self.fault("throttle")
                return self.ddb_reply(400, ddb_error("ThrottlingException", "Rate of requests exceeds the allowed throughput."))
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
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    proxy = Proxy(args.port, args.upstream, args.rate, args.seed)
    print(f"listening on {proxy.server_address[1]}", flush=True)
    try:
        proxy.serve_forever()
    finally:
        print(json.dumps(proxy.counts), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
