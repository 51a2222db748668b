"""Helpers for ``make destroy``: empty a stack's files bucket so CloudFormation can delete it.

    python -m infra.stack empty --stack haul-dev

A bucket whose deletion policy is Retain (the prod stage, infra/template.py) is left alone: the
stack goes, the files stay. Otherwise every object is deleted and every incomplete multipart
upload aborted (CloudFormation refuses to delete a bucket that still holds anything).
"""

from __future__ import annotations

import argparse
from typing import Any

BUCKET_OUTPUT = "FilesBucketName"
BUCKET_RESOURCE = "FilesBucket"


def stack_bucket(cloudformation: Any, stack: str) -> tuple[str | None, bool]:
    """The stack's files bucket and whether the stack keeps it when deleted."""
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    bucket = outputs.get(BUCKET_OUTPUT)
    template = cloudformation.get_template(StackName=stack, TemplateStage="Processed")["TemplateBody"]
    if isinstance(template, str):
        import json

        template = json.loads(template)
    policy = template.get("Resources", {}).get(BUCKET_RESOURCE, {}).get("DeletionPolicy", "Delete")
    return bucket, policy == "Retain"


def empty_bucket(s3: Any, bucket: str) -> tuple[int, int]:
    """Delete every object and abort every multipart upload; returns (objects, uploads)."""
    objects = uploads = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        for start in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start:start + 1000], "Quiet": True})
        objects += len(keys)
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            uploads += 1
    return objects, uploads


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    empty = sub.add_parser("empty", help="empty the stack's files bucket (unless the stack retains it)")
    empty.add_argument("--stack", required=True)
    args = parser.parse_args(argv)

    import boto3

    session = boto3.session.Session()
    bucket, retained = stack_bucket(session.client("cloudformation"), args.stack)
    if bucket is None:
        print(f"{args.stack} has no {BUCKET_OUTPUT} output; nothing to empty")
    elif retained:
        print(f"{bucket} is retained when {args.stack} is deleted; its files stay")
    else:
        objects, uploads = empty_bucket(session.client("s3"), bucket)
        print(f"emptied {bucket}: {objects} objects deleted, {uploads} incomplete uploads aborted")


if __name__ == "__main__":
    main()
