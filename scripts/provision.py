#!/usr/bin/env python3
"""Create the DynamoDB table(s), S3 bucket(s) and export units queue of infra/template.yaml on a local endpoint.

The template is the only definition of the schema; this script translates the CloudFormation
properties into the equivalent API calls, so local and test stacks can never drift from it.
Idempotent: an existing table with the same key schema and indexes, or an existing bucket, is kept.

Usage: AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:4568 AWS_ENDPOINT_URL_S3=http://127.0.0.1:4566 \
         scripts/provision.py [--template PATH]
   or: AWS_ENDPOINT_URL=http://127.0.0.1:4566 scripts/provision.py (one endpoint for both)
Env overrides for the template parameters: TABLE_NAME (TableName), BUCKET_NAME (BucketName).
"""

import argparse
import os
import re
import sys
from pathlib import Path

import boto3
import yaml
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parent.parent
PARAM_ENV = {"TableName": "TABLE_NAME", "BucketName": "BUCKET_NAME"}


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short tags (!Ref, !Sub, !GetAtt, !If, ...) as their long forms."""


def _short_tag(loader, tag_suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {"Fn::" + tag_suffix: value}


CfnLoader.add_multi_constructor("!", _short_tag)


def load_template(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)


class Resolver:
    """Resolves the intrinsics a table or bucket definition may use: Ref to parameters and
    pseudo parameters, Sub, Join. Anything else is reported rather than guessed."""

    def __init__(self, template, region):
        self.values = {
            "AWS::Region": region,
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "runledger",
        }
        for name, spec in (template.get("Parameters") or {}).items():
            override = os.environ.get(PARAM_ENV.get(name, ""), "")
            if override:
                self.values[name] = override
            elif "Default" in spec:
                self.values[name] = str(spec["Default"])

    def ref(self, name):
        if name not in self.values:
            raise SystemExit(f"provision: cannot resolve !Ref {name} (no default, no override)")
        return self.values[name]

    def __call__(self, node):
        if isinstance(node, list):
            return [self(v) for v in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self(arg[1]))
                return re.sub(
                    r"\$\{([^}!]+)\}",
                    lambda m: str(extra[m.group(1)]) if m.group(1) in extra else self.ref(m.group(1)),
                    text,
                )
            if key == "Fn::Join":
                return str(arg[0]).join(str(v) for v in self(arg[1]))
            if key.startswith("Fn::"):
                raise SystemExit(f"provision: {key} is not supported in provisioned properties")
        return {k: self(v) for k, v in node.items()}


# The SDKs' endpoint variables: a service's own wins over the general one.
ENDPOINT_VARS = {"dynamodb": "AWS_ENDPOINT_URL_DYNAMODB", "s3": "AWS_ENDPOINT_URL_S3"}


def local_endpoint(service):
    """The local endpoint the environment names for a service, or None."""
    return os.environ.get(ENDPOINT_VARS[service]) or os.environ.get("AWS_ENDPOINT_URL")


def has_local_endpoints():
    """Whether the environment points both services at local endpoints (never a real account)."""
    return all(local_endpoint(s) for s in ENDPOINT_VARS)


def client(service, endpoint, region):
    return boto3.client(service, endpoint_url=endpoint or local_endpoint(service), region_name=region)


def key_signature(keys):
    return tuple((k["AttributeName"], k["KeyType"]) for k in keys)


def provision_table(ddb, props):
    name = props["TableName"]
    wanted = {
        "table": key_signature(props["KeySchema"]),
        "indexes": {g["IndexName"]: key_signature(g["KeySchema"]) for g in props.get("GlobalSecondaryIndexes", [])},
    }
    try:
        desc = ddb.describe_table(TableName=name)["Table"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        desc = None

    if desc is not None:
        have = {
            "table": key_signature(desc["KeySchema"]),
            "indexes": {g["IndexName"]: key_signature(g["KeySchema"]) for g in desc.get("GlobalSecondaryIndexes", [])},
        }
        if have != wanted:
            raise SystemExit(
                f"provision: table {name} exists with a different key schema or indexes than "
                f"infra/template.yaml; delete it (or restart the emulator) and run again"
            )
        print(f"table {name}: exists, schema matches")
    else:
        args = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if "ProvisionedThroughput" in props:
            args["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        if "StreamSpecification" in props:
            args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        if "SSESpecification" in props:
            sse = props["SSESpecification"]
            args["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled"))} | {
                k: sse[k] for k in ("SSEType", "KMSMasterKeyId") if k in sse
            }
        ddb.create_table(**args)
        ddb.get_waiter("table_exists").wait(TableName=name)
        print(f"table {name}: created with {len(wanted['indexes'])} indexes")

    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        current = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            print(f"table {name}: TTL on {current.get('AttributeName')} already enabled")
        else:
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
            print(f"table {name}: TTL enabled on {ttl['AttributeName']}")

    pitr = props.get("PointInTimeRecoverySpecification")
    if pitr and pitr.get("PointInTimeRecoveryEnabled"):
        try:
            ddb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
            print(f"table {name}: point-in-time recovery enabled")
        except ClientError as e:  # an emulator may not implement it; nothing local depends on it
            print(f"table {name}: point-in-time recovery not set ({e.response['Error']['Code']})")


LIFECYCLE_KEYS = {"Id", "Status", "Prefix", "ExpirationInDays", "AbortIncompleteMultipartUpload"}


def lifecycle_rule(rule):
    unknown = set(rule) - LIFECYCLE_KEYS
    if unknown:
        raise SystemExit(f"provision: lifecycle rule keys not supported here: {sorted(unknown)}")
    out = {"Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
    return out


def provision_bucket(s3, props, region):
    name = props["BucketName"]
    try:
        s3.head_bucket(Bucket=name)
        print(f"bucket {name}: exists")
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
        args = {"Bucket": name}
        if region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**args)
        print(f"bucket {name}: created")

    # Puts replace the whole configuration, so re-applying them keeps the bucket in step.
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if "BucketEncryption" in props:
        rules = [
            {("ApplyServerSideEncryptionByDefault" if k == "ServerSideEncryptionByDefault" else k): v
             for k, v in rule.items()}
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        print(f"bucket {name}: default encryption applied")
    rules = (props.get("LifecycleConfiguration") or {}).get("Rules") or []
    if rules:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": [lifecycle_rule(r) for r in rules]}
        )
        print(f"bucket {name}: {len(rules)} lifecycle rules applied")


# The local name of the queue of export units (a FIFO queue's name ends in .fifo); lib.sh names its
# URL in EXPORT_QUEUE_URL.
LOCAL_QUEUES = {"ExportUnits": "runledger-export-units.fifo"}


def provision_queue(sqs, name, props):
    """Creates a queue the local stack delivers itself (scripts/export_pump.py); kept if it exists."""
    attributes = {"VisibilityTimeout": str(props.get("VisibilityTimeout", 30))}
    if props.get("FifoQueue"):
        attributes["FifoQueue"] = "true"
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    print(f"queue {name}: {url}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default=str(ROOT / "infra" / "template.yaml"))
    parser.add_argument("--endpoint-url", help="one endpoint for every service (else the environment's)")
    args = parser.parse_args()
    if not args.endpoint_url and not has_local_endpoints():
        # Refuse to touch a real account by accident; deploys go through the template itself.
        sys.exit(
            "provision: set AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_S3, or AWS_ENDPOINT_URL "
            "(or --endpoint-url), to the local endpoints"
        )

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

    template = load_template(args.template)
    resolve = Resolver(template, region)
    resources = template.get("Resources") or {}
    sqs_endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_SQS")
    for logical_id, res in resources.items():
        kind = res.get("Type")
        if kind == "AWS::SQS::Queue" and logical_id in LOCAL_QUEUES and sqs_endpoint:
            sqs = boto3.client("sqs", endpoint_url=sqs_endpoint, region_name=region)
            # Only what the local queue takes; its redrive policy names a queue the pump stands in for.
            props = {k: v for k, v in res["Properties"].items() if k in ("FifoQueue", "VisibilityTimeout")}
            provision_queue(sqs, LOCAL_QUEUES[logical_id], resolve(props))
        if kind == "AWS::DynamoDB::Table":
            provision_table(client("dynamodb", args.endpoint_url, region), resolve(res["Properties"]))
        elif kind == "AWS::S3::Bucket":
            provision_bucket(client("s3", args.endpoint_url, region), resolve(res["Properties"]), region)


if __name__ == "__main__":
    main()
