#!/usr/bin/env python3
"""Checks what the archive and export functions need of their policies and failure handling, on the
CloudFormation the SAM transform makes of infra/template.yaml (scripts/validate writes it):

- the archive and export roles may list the bucket only under bodies/ (export also exports/), so S3
  answers a body that is gone with NoSuchKey; the code counts a 403 as missing too;
- the export role may delete under exports/ only (a rerun removes the parts its manifest does not
  list) and mark days exported in the register (UpdateItem on DAY#);
- ingest may update the register (UpdateItem on DAY#);
- the export schedule has a retry policy and a dead-letter queue, failed runs land in the same
  queue, and an alarm watches it.

That each function's DynamoDB and S3 grants are exactly what its store capabilities need is checked
on infra/template.yaml itself by shared/tests/policies.rs (cargo test), against
shared/src/store/capabilities/.

Usage: scripts/policy_check.py TRANSFORMED.json [--self-test]. --self-test also proves the check fails
on the same template without the archive's s3:ListBucket grant.
"""

import copy
import json
import sys


def statements(resources, role):
    out = []
    for policy in resources[role]["Properties"].get("Policies", []):
        out.extend(policy["PolicyDocument"]["Statement"])
    return out


def actions(st):
    a = st.get("Action", [])
    return [a] if isinstance(a, str) else a


def values(v):
    return [v] if isinstance(v, (str, dict)) else list(v)


def is_bucket(resource):
    return resource == {"Fn::GetAtt": ["Bodies", "Arn"]}


def problems(template):
    r = template["Resources"]
    found = []

    def need(ok, what):
        if not ok:
            found.append(what)

    for role, prefixes in (("ArchiveFunctionRole", {"bodies/*"}), ("ExportFunctionRole", {"bodies/*", "exports/*"})):
        listing = [s for s in statements(r, role) if "s3:ListBucket" in actions(s) and s.get("Effect") == "Allow"]
        granted = set()
        for s in listing:
            prefix = s.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
            need(prefix is not None, f"{role}: s3:ListBucket without an s3:prefix condition ({s.get('Sid')})")
            need(all(is_bucket(x) for x in values(s["Resource"])),
                 f"{role}: s3:ListBucket on something else than the bucket")
            granted.update(values(prefix or []))
        need(prefixes <= granted, f"{role}: s3:ListBucket under {sorted(prefixes)} (has {sorted(granted)})")
        need(granted <= prefixes, f"{role}: s3:ListBucket beyond {sorted(prefixes)}: {sorted(granted - prefixes)}")

    export = statements(r, "ExportFunctionRole")
    deletes = [s for s in export if "s3:DeleteObject" in actions(s)]
    need(deletes, "ExportFunctionRole: no s3:DeleteObject on exports/*")
    for s in deletes:
        need(values(s["Resource"]) == [{"Fn::Sub": "${Bodies.Arn}/exports/*"}],
             "ExportFunctionRole: s3:DeleteObject beyond exports/*")

    def updates_register(role):
        def leading_keys(s):
            return s.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")

        return any("dynamodb:UpdateItem" in actions(s) and leading_keys(s) == ["DAY#*"] for s in statements(r, role))

    need(updates_register("ExportFunctionRole"), "ExportFunctionRole: no UpdateItem on DAY#* (exportedAt)")
    need(updates_register("IngestFunctionRole"), "IngestFunctionRole: no UpdateItem on DAY#* (changedAt)")

    schedules = [v for v in r.values() if v["Type"] == "AWS::Scheduler::Schedule"
                 and v["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": ["ExportFunction", "Arn"]}]
    need(len(schedules) == 1, "one schedule invokes the export function")
    queue = None
    for s in schedules:
        target = s["Properties"]["Target"]
        need("RetryPolicy" in target, "the export schedule has no RetryPolicy")
        queue = target.get("DeadLetterConfig", {}).get("Arn")
        need(queue is not None, "the export schedule has no dead-letter queue")
    configs = [v for v in r.values() if v["Type"] == "AWS::Lambda::EventInvokeConfig"
               and v["Properties"]["FunctionName"] == {"Ref": "ExportFunction"}]
    need(any(c["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination") == queue
             for c in configs), "failed export runs are not sent to the schedule's dead-letter queue")
    if queue:
        name = {"Fn::GetAtt": [queue["Fn::GetAtt"][0], "QueueName"]}
        need(any(v["Type"] == "AWS::CloudWatch::Alarm"
                 and {"Name": "QueueName", "Value": name} in v["Properties"].get("Dimensions", [])
                 for v in r.values()), "no alarm on the export dead-letter queue")
    return found


def main():
    with open(sys.argv[1]) as f:
        template = json.load(f)
    found = problems(template)
    if found:
        sys.exit("policy check:\n  " + "\n  ".join(found))
    print("policy check: archive and export grants, the export schedule's retries, dead-letter queue and alarm")
    if "--self-test" in sys.argv:
        broken = copy.deepcopy(template)
        for policy in broken["Resources"]["ArchiveFunctionRole"]["Properties"]["Policies"]:
            doc = policy["PolicyDocument"]
            doc["Statement"] = [s for s in doc["Statement"] if "s3:ListBucket" not in actions(s)]
        if not problems(broken):
            sys.exit("policy check: a template without the archive's s3:ListBucket passed")
        print("policy check: a template without the archive's s3:ListBucket is refused, as it should be")


if __name__ == "__main__":
    main()
