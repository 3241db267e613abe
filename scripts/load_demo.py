#!/usr/bin/env python3
"""Load demo workflow executions and event logs into a running stack through the `ingest` function.

Invokes `ingest` with the Lambda Invoke API, as a producer would, at http://127.0.0.1:9000 (or
$RUNLEDGER_INVOKE_URL): about 300 executions over the last 30 days, each with 1-5 steps, and the
event logs (`kind: "log"`) of the triggers that started them, tied to them by trace id: webhooks
(some starting three workflows), app events, request triggers, integration-enabled triggers and
schedules, a few that started nothing or failed, plus logs outside any trace (credential refreshes,
events no workflow subscribed to, scheduler failures, single steps run by a user).

Usage: scripts/load_demo.py [--project demo] [--executions 300] [--seed N] [--no-logs] [--dry-run]
"""

import argparse
import json
import os
import random
import string
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

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

# Event logs: the trigger families of traced executions (execution triggerType -> weight).
TRACED_SHARE = 0.6  # of the executions not in a webhook fan-out
FAMILIES = {"webhook": 35, "cron": 20, "api": 20, "event": 17, "integration-enabled": 8}
WEBHOOK_FANOUT = 3  # executions one webhook record starts in a fan-out trace
BIG_PAYLOAD_SHARE = 0.01  # logs whose payload is too large to stay inline (stored in S3)
BIG_BATCH_RECORDS = 200

FIRST_NAMES = ["Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Radia"]
LAST_NAMES = ["Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Perlman"]
COMPANIES = ["Analytical Engines", "Initech", "Globex", "Acme Corp", "Hooli", "Vandelay Industries", "Stark Logistics"]
SF_OBJECTS = [("Lead", "00Q"), ("Contact", "003"), ("Opportunity", "006"), ("Account", "001")]
APP_EVENTS = ["Contact Created", "Deal Won", "Ticket Escalated", "Invoice Paid"]
SCHEDULES = ["every 15 minutes", "every hour", "daily at 02:00 UTC", "weekdays at 09:00 America/New_York"]
DESIGNERS = ["ada@example.com", "grace@example.com", "alan@example.com"]
B62 = string.digits + string.ascii_letters


def iso(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def ms(n):
    return timedelta(milliseconds=n)


def new_id(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def pick_workflow(rng):
    workflow_id, workflow_name, integration = rng.choice(WORKFLOWS)
    if rng.random() < 0.2:  # some workflows also run against other integrations
        integration = rng.choice(INTEGRATIONS)
    return workflow_id, workflow_name, integration


def pick_status(rng, running=True):
    weights = [80, 14, 3 if running else 0, 3]
    return rng.choices(["SUCCEEDED", "FAILED", "RUNNING", "CANCELLED"], weights=weights)[0]


def make_execution(rng, project, now, *, workflow=None, user_id=None, trigger=None, status=None,
                   started=None, trace_id=None, record_id=None):
    """An execution event and its step events; unset arguments are drawn from `rng`."""
    workflow_id, workflow_name, integration = workflow or pick_workflow(rng)
    if started is None:
        started = now - timedelta(seconds=rng.uniform(60, 30 * 86400))
        status = status or pick_status(rng)
        if status == "RUNNING":  # running ones started recently
            started = now - timedelta(seconds=rng.uniform(60, 600))
    status = status or pick_status(rng)
    exec_id = new_id(rng)
    if record_id is None:
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
            "id": new_id(rng),
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
        "userId": user_id or f"user-{rng.randint(1, 20)}",
        "integration": integration,
        "triggerType": trigger or rng.choice(TRIGGERS),
        "status": status,
        "dateStarted": iso(started),
        "taskCount": n_steps,
        "input": {"recordId": record_id, "source": integration},
    }
    if trace_id:
        execution["traceId"] = trace_id
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


# ---- realistic payloads -------------------------------------------------------------------------


def sf_id(rng, prefix):
    """An 18-character Salesforce record id, e.g. 00Q5g00000Xk3PqEAJ."""
    return (prefix + "5g0000" + "".join(rng.choice(B62) for _ in range(6))
            + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345") for _ in range(3)))


def person(rng):
    first, last, company = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), rng.choice(COMPANIES)
    domain = company.lower().replace(" ", "") + ".example.com"
    return first, last, company, f"{first.lower()}.{last.lower()}@{domain}"


def sf_record(rng, sobject, prefix, at):
    rid = sf_id(rng, prefix)
    first, last, company, email = person(rng)
    record = {"Id": rid, "attributes": {"type": sobject, "url": f"/services/data/v59.0/sobjects/{sobject}/{rid}"}}
    if sobject == "Lead":
        record.update(FirstName=first, LastName=last, Email=email, Company=company,
                      Status=rng.choice(["Open - Not Contacted", "Working - Contacted", "Qualified"]))
    elif sobject == "Contact":
        record.update(FirstName=first, LastName=last, Email=email, AccountId=sf_id(rng, "001"))
    elif sobject == "Opportunity":
        record.update(Name=f"{company} - {rng.choice(['Renewal', 'Expansion', 'New Business'])}",
                      StageName=rng.choice(["Prospecting", "Negotiation/Review", "Closed Won"]),
                      Amount=rng.randrange(5000, 250000, 500), AccountId=sf_id(rng, "001"))
    else:
        record.update(Name=company, Industry=rng.choice(["Technology", "Manufacturing", "Retail"]))
    record.update(OwnerId=sf_id(rng, "005"), LastModifiedDate=iso(at))
    return rid, record


def webhook_body(rng, integration, at):
    """(record id, body) of one incoming integration webhook."""
    if integration == "salesforce":
        sobject, prefix = rng.choice(SF_OBJECTS)
        rid, record = sf_record(rng, sobject, prefix, at)
        return rid, {"event": rng.choice(["record.created", "record.updated"]), "sobjectType": sobject,
                     "record": record}
    if integration == "hubspot":
        object_id = rng.randint(10**10, 10**11 - 1)
        kind = rng.choice([("contact.propertyChange", "lifecyclestage", "customer"),
                           ("deal.propertyChange", "dealstage", "closedwon"),
                           ("contact.creation", None, None)])
        event = {"eventId": rng.randint(10**9, 5 * 10**9), "subscriptionId": 2381023, "portalId": 62515,
                 "appId": 1160452, "occurredAt": int(at.timestamp() * 1000), "subscriptionType": kind[0],
                 "attemptNumber": 0, "objectId": object_id, "changeSource": "CRM"}
        if kind[1]:
            event.update(propertyName=kind[1], propertyValue=kind[2])
        return object_id, [event]
    if integration == "slack":
        ts = f"{at.timestamp():.6f}"
        channel = "C0" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(9))
        _, _, company, _ = person(rng)
        return f"{channel}-{ts}", {
            "type": "event_callback", "team_id": "T04DEMO1234", "api_app_id": "A05DEMO5678",
            "event": {"type": "message", "channel": channel, "channel_type": "channel",
                      "user": "U0" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(9)),
                      "text": rng.choice([f"Deal won: {company} :tada:", "Can someone look at the failing sync?",
                                          f"New lead from {company}"]),
                      "ts": ts, "event_ts": ts},
            "event_id": "Ev0" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(9)),
            "event_time": int(at.timestamp()),
        }
    key = f"{rng.choice(['OPS', 'SUP', 'ENG'])}-{rng.randint(100, 4999)}"
    first, last, _, _ = person(rng)
    return key, {
        "timestamp": int(at.timestamp() * 1000),
        "webhookEvent": rng.choice(["jira:issue_created", "jira:issue_updated"]),
        "user": {"accountId": f"5b10a2844c20165700ede{rng.randint(100, 999)}", "displayName": f"{first} {last}"},
        "issue": {"id": str(rng.randint(10000, 99999)), "key": key, "fields": {
            "summary": rng.choice(["Customer cannot log in", "Sync stuck on account import", "Invoice PDF is blank"]),
            "issuetype": {"name": rng.choice(["Bug", "Task", "Incident"])},
            "priority": {"name": rng.choice(["Highest", "High", "Medium"])},
            "status": {"name": rng.choice(["To Do", "In Progress", "Done"])},
            "project": {"key": key.split("-")[0]},
        }},
    }


def big_batch(rng, log):
    """Turns a webhook log's payload into a batch of records, too large to stay inline even gzipped."""
    at = datetime.fromisoformat(log["timestamp"].replace("Z", "+00:00"))
    body = log["payload"]
    if isinstance(body, dict) and "sobjectType" in body:  # Salesforce: a change batch of the same object
        sobject = body["sobjectType"]
        prefix = dict(SF_OBJECTS)[sobject]
        records = [body.pop("record")]
        for _ in range(BIG_BATCH_RECORDS - 1):
            records.append(sf_record(rng, sobject, prefix, at)[1])
        for r in records:
            r["ChangeEventHeader"] = {"changeType": "UPDATE", "commitNumber": rng.randint(10**12, 10**13 - 1),
                                      "transactionKey": new_id(rng), "changedFields": ["Status", "LastModifiedDate"]}
        body.update(event="record.updated", batchSize=len(records), records=records)
        return
    log["payload"] = {"batchSize": BIG_BATCH_RECORDS, "records": [body] + [
        {"id": new_id(rng), "externalId": f"{rng.getrandbits(96):024x}", "updatedAt": iso(at)}
        for _ in range(BIG_BATCH_RECORDS - 1)
    ]}


def app_event_payload(rng, name):
    first, last, company, email = person(rng)
    if name == "Contact Created":
        return email, {"email": email, "firstName": first, "lastName": last, "company": company}
    if name == "Deal Won":
        deal = f"deal_{rng.randint(10000, 99999)}"
        return deal, {"dealId": deal, "name": f"{company} annual plan", "amount": rng.randrange(1000, 90000, 100),
                      "currency": "USD", "ownerEmail": email}
    if name == "Ticket Escalated":
        ticket = f"TCK-{rng.randint(1000, 9999)}"
        return ticket, {"ticketId": ticket, "priority": "urgent", "subject": "Export keeps timing out",
                        "requester": email}
    invoice = f"in_{rng.getrandbits(64):016x}"
    return invoice, {"invoiceId": invoice, "amountPaid": rng.randrange(500, 50000, 50), "currency": "USD",
                     "customerEmail": email}


# ---- demo data --------------------------------------------------------------------------------


class Demo:
    """Executions (with steps) and event logs, all drawn from one rng."""

    def __init__(self, rng, project, now):
        self.rng, self.project, self.now = rng, project, now
        self.events = []  # in units: a trace's logs, then its executions and their steps
        self.personas, self.credentials, self.configs, self.webhooks = {}, {}, {}, {}

    # shared values, stable for the whole run
    def persona(self, user):
        return self.personas.setdefault(user, new_id(self.rng))

    def credential(self, user, integration):
        return self.credentials.setdefault((user, integration), new_id(self.rng))

    def config(self, integration):
        return self.configs.setdefault(integration, new_id(self.rng))

    def webhook(self, integration):
        return self.webhooks.setdefault(integration, new_id(self.rng))

    def user(self):
        return f"user-{self.rng.randint(1, 20)}"

    def when(self):
        """A time within the last 30 days, leaving room for what follows it."""
        return self.now - timedelta(seconds=self.rng.uniform(600, 30 * 86400 - 60))

    def log(self, at, level, type_, message, *, trace=None, user=None, integration=None, workflow=None,
            status=None, error=None, payload=None, **extra):
        # Ids from the rng, like the executions': a rerun with the same --seed sends duplicates, where
        # ids derived from the content (timestamps relative to now included) would be new.
        e = {"kind": "log", "projectId": self.project, "id": new_id(self.rng), "timestamp": iso(at),
             "level": level, "type": type_, "message": message}
        if user:
            e.update(endUserId=user, personaId=self.persona(user))
        if integration:
            e["integrationId"] = integration
        if workflow:
            e["workflowId"] = workflow
        if trace:
            e["traceId"] = trace
        e.update({k: v for k, v in extra.items() if v is not None})
        if status:
            e["status"] = status
        if error:
            e["error"] = error
        if payload is not None:
            e["payload"] = payload
        self.events.append(e)
        return e

    def executions(self, n, trigger, trace):
        """The plan of n executions of one trigger: different workflows, the same user and integration."""
        rng = self.rng
        wf = pick_workflow(rng)
        workflows = [wf] + [w for w in rng.sample(WORKFLOWS, len(WORKFLOWS)) if w[0] != wf[0]][: n - 1]
        integration, user = wf[2], self.user()
        status = pick_status(rng, running=n == 1)
        # Running ones started recently; the others leave room for the trigger logs before them.
        started = self.now - timedelta(seconds=rng.uniform(60, 600)) if status == "RUNNING" else self.when()
        return {"workflows": [w[0] for w in workflows], "integration": integration, "user": user,
                "started": started, "status": status, "trace": trace, "trigger": trigger,
                "spec": [(w[0], w[1], integration) for w in workflows]}

    def start(self, plan, record_id):
        """Appends the planned executions; returns their events."""
        rng, out, started = self.rng, [], plan["started"]
        for i, wf in enumerate(plan["spec"]):
            if i:
                started += ms(rng.randint(80, 700))
            status = plan["status"] if i == 0 else pick_status(rng, running=False)
            out.extend(make_execution(rng, self.project, self.now, workflow=wf, user_id=plan["user"],
                                      trigger=plan["trigger"], status=status, started=started,
                                      trace_id=plan["trace"], record_id=record_id))
        self.events.extend(out)
        return out

    # ---- traces: trigger logs, then the executions they started ----

    def webhook_trace(self, n_executions=1, fail=False, trace=None, record=None):
        rng, trace = self.rng, trace or new_id(self.rng)
        plan = self.executions(n_executions, "webhook", trace)
        t0, user, integration = plan["started"], plan["user"], plan["integration"]
        single = plan["workflows"][0] if n_executions == 1 else None
        record_id, body = webhook_body(rng, integration, t0 - ms(1000))
        if record:  # a record the README searches for
            record_id = record
            body = {"event": "record.updated", "integration": integration,
                    "record": {"Id": record, "Company": "Acme Corp", "Status": "Working - Contacted"}}
        common = {"trace": trace, "user": user, "integration": integration, "webhookId": self.webhook(integration)}
        self.log(t0 - ms(rng.randint(200, 900)), "INFO", "WEBHOOK_TRIGGER", "Webhook Trigger request received",
                 payload=body, **common)
        scope = "user" if n_executions > 1 else rng.choices(["user", "app", "resource"], weights=[70, 15, 15])[0]
        processing = {"user": "Webhook Trigger processing record for user",
                      "app": "Webhook Trigger processing record for app",
                      "resource": "Webhook Trigger processing record for resource"}[scope]
        record = {"recordId": record_id, "integration": integration}
        self.log(t0 - ms(rng.randint(100, 180)), "DEBUG", "WEBHOOK_TRIGGER", processing, payload=record, **common)
        if fail:
            message = {"user": "Webhook trigger failed to process record",
                       "app": "Webhook Trigger failed to process record",
                       "resource": "Webhook trigger failed to process record for resource"}[scope]
            code, text, details = rng.choice([
                ("USER_NOT_FOUND", "No connected user matches the record owner", {"ownerField": "OwnerId"}),
                ("INVALID_SIGNATURE", "Webhook signature verification failed", {"header": "x-signature"}),
                ("RECORD_FETCH_FAILED", "Fetching the full record failed with status 404", {"status": 404}),
            ])
            self.log(t0 - ms(rng.randint(20, 90)), "ERROR", "WEBHOOK_TRIGGER", message, status="FAILED",
                     error={"code": code, "message": text, "details": {**details, "recordId": record_id}},
                     payload=record, **common)
            return
        submitting = {"user": "Webhook Trigger submitting workflows for processed records",
                      "app": "Webhook Trigger submitting workflows for app users",
                      "resource": "Webhook Trigger Submitting workflow for resource"}[scope]
        self.log(t0 - ms(50), "INFO", "WEBHOOK_TRIGGER", submitting, workflow=single,
                 payload={"recordId": record_id, "workflowIds": plan["workflows"], "recordCount": 1}, **common)
        self.start(plan, record_id)

    def scheduler_trace(self):
        rng, trace = self.rng, new_id(self.rng)
        plan = self.executions(1, "cron", trace)
        t0 = plan["started"]
        scheduled = t0.replace(second=0, microsecond=0)
        self.log(t0 - ms(50), "INFO", "SCHEDULER_TRIGGER", "Scheduler Trigger submitting workflow for execution",
                 trace=trace, user=plan["user"], integration=plan["integration"], workflow=plan["workflows"][0],
                 payload={"schedule": rng.choice(SCHEDULES), "scheduledFor": iso(scheduled),
                          "workflowId": plan["workflows"][0]})
        self.start(plan, None)

    def request_trace(self, fail=False):
        rng, trace = self.rng, new_id(self.rng)
        plan = self.executions(1, "api", trace)
        t0, wf = plan["started"], plan["workflows"][0]
        record_id, body = app_event_payload(rng, rng.choice(APP_EVENTS))
        common = {"trace": trace, "user": plan["user"], "integration": plan["integration"], "workflow": wf}
        self.log(t0 - ms(rng.randint(200, 900)), "INFO", "REQUEST_TRIGGER", "Request Trigger Started", payload={
            "method": "POST", "path": f"/projects/{self.project}/sdk/triggers/{wf}",
            "headers": {"content-type": "application/json", "user-agent": "node-fetch/2.7.0",
                        "x-paragon-user": plan["user"]},
            "body": body}, **common)
        if fail:
            code, text = rng.choice([("WORKFLOW_DISABLED", f"Workflow {wf} is disabled for this user"),
                                     ("INVALID_BODY", "Request body does not match the trigger's schema"),
                                     ("USER_NOT_CONNECTED", f"User has not enabled {plan['integration']}")])
            self.log(t0 - ms(rng.randint(20, 150)), "ERROR", "REQUEST_TRIGGER", "Request Trigger Failed",
                     status="FAILED", error={"code": code, "message": text}, **common)
            return
        self.log(t0 - ms(50), "INFO", "REQUEST_TRIGGER", "Request Trigger workflow submitted for execution",
                 payload={"workflowId": wf, "responseMode": "wait-for-completion"}, **common)
        execution = self.start(plan, record_id)[0]
        ended = execution.get("dateEnded")
        if ended is None or ended > iso(t0 + timedelta(seconds=10)):  # the caller stopped waiting
            self.log(t0 + ms(10000 + rng.randint(0, 40)), "WARN", "REQUEST_TRIGGER",
                     "Request Trigger execution response timeout occurred", status="TIMEOUT",
                     payload={"timeoutMs": 10000, "executionId": execution["id"]}, **common)

    def app_event_trace(self, n_executions=1, outcome="ok"):
        rng, trace = self.rng, new_id(self.rng)
        plan = self.executions(n_executions, "event", trace)
        t0, name = plan["started"], rng.choice(APP_EVENTS)
        record_id, body = app_event_payload(rng, name)
        common = {"trace": trace, "user": plan["user"], "integration": plan["integration"],
                  "workflow": plan["workflows"][0] if n_executions == 1 and outcome == "ok" else None,
                  "eventId": new_id(rng), "eventName": name}
        self.log(t0 - ms(rng.randint(200, 900)), "INFO", "APP_EVENT_TRIGGER", "App Event Trigger Started",
                 payload={"event": name, "payload": body}, **common)
        if outcome == "unsubscribed":
            self.log(t0 - ms(rng.randint(50, 150)), "WARN", "APP_EVENT_TRIGGER",
                     "App Event Trigger No workflows subscribed for trigger", **common)
            return
        if outcome == "unconfigured":
            self.log(t0 - ms(rng.randint(50, 150)), "WARN", "APP_EVENT_TRIGGER",
                     f"App Event Trigger No workflow configured with event {name}", **common)
            return
        if outcome == "prepare-failed":
            self.log(t0 - ms(rng.randint(50, 150)), "ERROR", "APP_EVENT_TRIGGER",
                     "Error preparing workflow for event trigger", status="FAILED",
                     error={"code": "INVALID_EVENT_PAYLOAD", "message": f"Payload of event '{name}' does not match "
                            "its schema", "details": {"missing": ["email"], "eventName": name}}, **common)
            return
        self.log(t0 - ms(50), "INFO", "APP_EVENT_TRIGGER", "App Event Trigger Submitting workflows for execution",
                 payload={"workflowIds": plan["workflows"]}, **common)
        if outcome == "submit-failed":
            self.log(t0 - ms(rng.randint(5, 40)), "ERROR", "APP_EVENT_TRIGGER",
                     "App Event Trigger Workflow submission failures", status="FAILED",
                     error={"code": "SUBMISSION_FAILED", "message": "No workflow could be submitted",
                            "details": {"failed": [{"workflowId": w, "reason": "Workflow is not deployed"}
                                                   for w in plan["workflows"]]}}, **common)
            return
        self.log(t0 - ms(20), "INFO", "APP_EVENT_TRIGGER", "App Event Trigger Workflows submitted successfully",
                 status="SUCCEEDED", payload={"submitted": len(plan["workflows"])}, **common)
        self.start(plan, record_id)

    def integration_enabled_trace(self, fail=False):
        rng, trace = self.rng, new_id(self.rng)
        plan = self.executions(1, "integration-enabled", trace)
        t0, user, integration = plan["started"], plan["user"], plan["integration"]
        common = {"trace": trace, "user": user, "integration": integration, "workflow": plan["workflows"][0],
                  "connectCredentialId": self.credential(user, integration),
                  "connectCredentialConfigId": self.config(integration)}
        self.log(t0 - ms(rng.randint(200, 900)), "INFO", "INTEGRATION_ENABLED_TRIGGER",
                 "Integration Enabled Trigger Started",
                 payload={"integration": integration, "enabledAt": iso(t0 - ms(1000)),
                          "credentialStatus": "VALID", "providerId": f"{integration}-{rng.randint(10**5, 10**6)}"},
                 **common)
        if fail:
            self.log(t0 - ms(rng.randint(20, 150)), "ERROR", "INTEGRATION_ENABLED_TRIGGER",
                     "Integration Enabled Trigger Failed", status="FAILED",
                     error={"code": "WORKFLOW_DISABLED", "message": "The workflow is turned off for this user",
                            "details": {"workflowId": plan["workflows"][0]}}, **common)
            return
        self.log(t0 - ms(50), "INFO", "INTEGRATION_ENABLED_TRIGGER",
                 "Integration Enabled Trigger workflow submitted for execution",
                 payload={"workflowId": plan["workflows"][0]}, **common)
        self.start(plan, None)

    # ---- logs outside any trace ----

    def credential_refresh(self):
        rng, at, user = self.rng, self.when(), self.user()
        integration = rng.choice(INTEGRATIONS)
        common = {"user": user, "integration": integration, "connectCredentialId": self.credential(user, integration),
                  "connectCredentialConfigId": self.config(integration)}
        self.log(at, "DEBUG", "CREDENTIAL_REFRESH", "Credential refresh attempted",
                 payload={"reason": "access token expires in less than 5 minutes",
                          "expiresAt": iso(at + timedelta(minutes=rng.randint(1, 4)))}, **common)
        done = at + ms(rng.randint(150, 1500))
        if rng.random() < 0.25:
            code, text, status = rng.choice([("invalid_grant", "Token has been expired or revoked.", 400),
                                             ("invalid_client", "Client authentication failed", 401),
                                             ("temporarily_unavailable", "Provider returned 503", 503)])
            self.log(done, "ERROR", "CREDENTIAL_REFRESH", "Credential refresh failed", status="FAILED",
                     error={"code": code, "message": text, "details": {"httpStatus": status}}, **common)
        else:
            self.log(done, "INFO", "CREDENTIAL_REFRESH", "Credential refresh succeeded", status="SUCCEEDED",
                     payload={"expiresAt": iso(done + timedelta(hours=1)), "scopes": ["api", "refresh_token"]},
                     **common)

    def event_received(self):
        at, integration = self.when(), self.rng.choice(INTEGRATIONS)
        _, body = webhook_body(self.rng, integration, at)
        self.log(at, "INFO", "EVENT_RECEIVED", "Event received; no workflow subscribed", integration=integration,
                 eventId=new_id(self.rng), payload=body)

    def scheduler_failure(self):
        rng, at, user = self.rng, self.when(), self.user()
        wf, _, integration = pick_workflow(rng)
        code, text = rng.choice([("WORKFLOW_DISABLED", "Workflow is disabled"),
                                 ("CONCURRENCY_LIMIT", "Too many executions of this workflow are running"),
                                 ("USER_DISABLED", f"User has disabled {integration}")])
        self.log(at, "ERROR", "SCHEDULER_TRIGGER", "Scheduler Trigger failed to submit execution for workflow",
                 user=user, integration=integration, workflow=wf, status="FAILED",
                 error={"code": code, "message": text, "details": {"workflowId": wf}},
                 payload={"schedule": rng.choice(SCHEDULES), "scheduledFor": iso(at.replace(second=0, microsecond=0))})

    def step_run(self):
        rng, at, user = self.rng, self.when(), self.user()
        wf, _, integration = pick_workflow(rng)
        step = rng.choice(["Fetch records", "Upsert record", "Send message", "Transform payload"])
        payload = {"stepName": step, "stepType": "integration-action", "executedBy": rng.choice(DESIGNERS),
                   "source": "designer", "durationMs": rng.randint(80, 3000),
                   "input": {"recordId": rng.randint(1000, 99999)}}
        if rng.random() < 0.2:
            code, message, details = rng.choice(ERRORS)
            self.log(at, "ERROR", "STEP_RUN", "Single step run by user failed", user=user, integration=integration,
                     workflow=wf, status="FAILED", error={"code": code, "message": message, "details": details},
                     payload=payload)
        else:
            payload["output"] = {"ok": True, "items": rng.randint(0, 50)}
            self.log(at, "INFO", "STEP_RUN", "Single step run by user", user=user, integration=integration,
                     workflow=wf, status="SUCCEEDED", payload=payload)


def build_demo(rng, project, now, n_executions):
    """All events: n_executions executions (with steps) and the event logs around them."""
    demo = Demo(rng, project, now)
    if n_executions <= 0:
        return demo.events
    fanouts = max(3, n_executions // 40) if n_executions >= 3 * WEBHOOK_FANOUT else n_executions // WEBHOOK_FANOUT
    # Fan-outs have readable trace ids, and the first one a known record, for the README's examples.
    for n in range(fanouts):
        demo.webhook_trace(WEBHOOK_FANOUT, trace=f"webhook-fanout-{n + 1}", record="00Q5g000004XyZ" if n == 0 else None)
    left = n_executions - fanouts * WEBHOOK_FANOUT
    while left > 0:
        if rng.random() >= TRACED_SHARE:
            demo.events.extend(make_execution(rng, project, now))
            left -= 1
            continue
        family = rng.choices(list(FAMILIES), weights=list(FAMILIES.values()))[0]
        if family == "webhook":
            demo.webhook_trace()
        elif family == "cron":
            demo.scheduler_trace()
        elif family == "api":
            demo.request_trace()
        elif family == "integration-enabled":
            demo.integration_enabled_trace()
        elif left >= 2 and rng.random() < 0.2:  # an app event two workflows subscribe to
            demo.app_event_trace(2)
            left -= 1
        else:
            demo.app_event_trace()
        left -= 1

    # traces that started nothing, and logs outside any trace
    started_nothing = [
        lambda: demo.webhook_trace(fail=True),
        lambda: demo.request_trace(fail=True),
        lambda: demo.integration_enabled_trace(fail=True),
        lambda: demo.app_event_trace(outcome="unsubscribed"),
        lambda: demo.app_event_trace(outcome="unconfigured"),
        lambda: demo.app_event_trace(outcome="prepare-failed"),
        lambda: demo.app_event_trace(outcome="submit-failed"),
    ]
    for i in range(max(len(started_nothing), n_executions // 25)):
        started_nothing[i % len(started_nothing)]()
    for _ in range(max(2, n_executions // 10)):
        demo.credential_refresh()
    for _ in range(max(1, n_executions // 20)):
        demo.event_received()
        demo.step_run()
    for _ in range(max(1, n_executions // 50)):
        demo.scheduler_failure()

    logs = [e for e in demo.events if e["kind"] == "log"]
    received = [e for e in logs if e["message"] == "Webhook Trigger request received"]
    salesforce = [e for e in received if e.get("integrationId") == "salesforce"]
    big = min(len(received), max(1, round(BIG_PAYLOAD_SHARE * len(logs))))
    for log in rng.sample(salesforce if len(salesforce) >= big else received, big):
        big_batch(rng, log)
    return demo.events


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="demo")
    parser.add_argument("--executions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=None, help="reproducible content (ids included)")
    parser.add_argument("--logs", action=argparse.BooleanOptionalAction, default=True,
                        help="also send the event logs (trigger events) tied to the executions (default)")
    parser.add_argument("--dry-run", action="store_true", help="print the envelopes instead of sending them")
    args = parser.parse_args()

    url = os.environ.get("RUNLEDGER_INVOKE_URL", "http://127.0.0.1:9000")
    rng = random.Random(args.seed)
    now = datetime.now(UTC)
    # The same content with or without logs (executions keep their trace ids).
    events = [e for e in build_demo(rng, args.project, now, args.executions) if args.logs or e["kind"] != "log"]
    n_logs = sum(e["kind"] == "log" for e in events)
    n_traces = len({e["traceId"] for e in events if e.get("traceId")})
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
    unsupported = Counter()  # kinds this ingest does not accept, reported once each
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
            index = r.get("index", 0)
            if r.get("code") == "unsupported_kind" and 0 <= index < len(batch):
                unsupported[batch[index]["kind"]] += 1
                continue
            print(f"  rejected event {start + index}: {r.get('code')}: {r.get('message')}")
    for kind, count in unsupported.items():
        print(f"  rejected {count} {kind} events: unsupported_kind (this ingest does not accept them; "
              f"--no-logs leaves log events out)")

    print(
        f"demo data for project {args.project}: {args.executions} executions, {n_logs} log events "
        f"({n_traces} traces), {len(events)} events -> "
        f"accepted {totals['accepted']}, duplicates {totals['duplicates']}, rejected {totals['rejected']}"
    )
    if not totals["accepted"] and not totals["duplicates"]:
        sys.exit("load_demo: ingest accepted nothing")


if __name__ == "__main__":
    main()
