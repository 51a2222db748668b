"""``python -m bench.emulator``: what the embedded emulator (moto's server) itself can do.

Evidence for docs/performance.md, apart from Haul: moto runs as its own process here
(``moto_server``) and is driven by boto3 from this one.

1. S3 multipart: UploadPart throughput with 8 client threads and the cost of
   CompleteMultipartUpload, per part size, for 512 MiB (or ``--mib``), with CRC32 checksums
   (what Haul and ``aws s3 cp`` ask for) and without (moto then computes a CRC64NVME of the
   whole object).
2. DynamoDB: the cost of one TransactWriteItems (Haul's record_part: put the part + count it
   on the task) as the streamed tasks table accumulates updates, against a conditional
   PutItem + UpdateItem doing the same work.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import requests
from botocore.config import Config as BotoConfig

from .procs import MiB, cpu_seconds, terminate
from .runtime import DUMMY_AWS, clean_env, free_port


def _client(service: str, endpoint: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(service, endpoint_url=endpoint, config=BotoConfig(
        s3={"addressing_style": "path"}, max_pool_connections=32, read_timeout=600, retries={"max_attempts": 2},
    ))


def s3_multipart(endpoint: str, pid: int, total_mib: int) -> list[str]:
    s3 = _client("s3", endpoint)
    s3.create_bucket(Bucket="emulator-probe")
    lines = []
    for part_mib, algorithm in ((8, "CRC32"), (16, "CRC32"), (32, "CRC32"), (16, None)):
        body = os.urandom(part_mib * MiB)
        count = max(1, total_mib // part_mib)
        extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
        upload = s3.create_multipart_upload(Bucket="emulator-probe", Key="k", **extra)["UploadId"]

        def one(number: int, upload: str = upload, body: bytes = body, extra: dict[str, str] = extra) -> dict[str, Any]:
            answer = s3.upload_part(Bucket="emulator-probe", Key="k", UploadId=upload, PartNumber=number,
                                    Body=body, **extra)
            entry = {"PartNumber": number, "ETag": answer["ETag"]}
            for name in extra.values():
                entry[f"Checksum{name}"] = answer[f"Checksum{name}"]
            return entry

        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            parts = list(pool.map(one, range(1, count + 1)))
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        s3.complete_multipart_upload(Bucket="emulator-probe", Key="k", UploadId=upload,
                                     MultipartUpload={"Parts": parts})
        cpu2, t2 = cpu_seconds(pid), time.monotonic()
        s3.delete_object(Bucket="emulator-probe", Key="k")
        mib = count * part_mib
        lines.append(
            f"| {part_mib} MiB x {count} | {algorithm or 'none (CRC64NVME)'} | {mib / (t1 - t0):.0f} MiB/s "
            f"| {(cpu1 - cpu0) / mib * 1024:.1f} | {t2 - t1:.2f} s | {(cpu2 - cpu1) / mib * 1024:.1f} |"
        )
        print("  " + lines[-1], flush=True)
    return lines


def dynamodb_records(endpoint: str) -> list[str]:
    ddb = _client("dynamodb", endpoint)
    key = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}]
    ddb.create_table(TableName="tasks", BillingMode="PAY_PER_REQUEST", KeySchema=key, AttributeDefinitions=attrs,
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    ddb.create_table(TableName="parts", BillingMode="PAY_PER_REQUEST", KeySchema=key, AttributeDefinitions=attrs)
    lanes = {str(i): {"N": "0"} for i in range(8)}
    task_key = {"pk": {"S": "task"}, "sk": {"S": "task"}}
    ddb.put_item(TableName="tasks", Item={**task_key, "n": {"N": "0"}, "url": {"S": "http://origin/" + "a" * 100},
                                          "lane_bytes": {"M": lanes}, "lane_speed": {"M": lanes}})
    count_it = {"TableName": "tasks", "Key": task_key, "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}}}
    updates, lines, serial = 0, [], 0
    for target in (0, 300, 1000, 3000):
        while updates < target:  # progress writes, as lanes make them
            ddb.update_item(TableName="tasks", Key=task_key, UpdateExpression="SET lane_bytes.#l = :v",
                            ExpressionAttributeNames={"#l": str(updates % 8)},
                            ExpressionAttributeValues={":v": {"N": str(updates)}})
            updates += 1
        timings = []
        for two_writes in (False, True):
            t0, n = time.monotonic(), 10
            for _ in range(n):
                serial += 1
                part = {"TableName": "parts", "Item": {"pk": {"S": "task"}, "sk": {"S": f"{serial:08d}"}},
                        "ConditionExpression": "attribute_not_exists(sk)"}
                if two_writes:
                    ddb.put_item(**part)
                    ddb.update_item(**count_it)
                else:
                    ddb.transact_write_items(TransactItems=[{"Put": part}, {"Update": count_it}])
            timings.append((time.monotonic() - t0) / n * 1000)
            updates += n
        lines.append(f"| {target} | {timings[0]:.1f} ms | {timings[1]:.1f} ms |")
        print("  " + lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.emulator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=512, help="MiB per S3 multipart upload (default 512)")
    args = parser.parse_args(argv)
    port = free_port()
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(DUMMY_AWS)
    try:
        for _ in range(200):
            try:
                requests.get(endpoint + "/moto-api/", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        print(f"moto_server pid {moto.pid} on {endpoint}; load average {os.getloadavg()}")
        print("\nS3 multipart into moto (8 client threads):\n")
        print("| parts | checksum | UploadPart rate | emulator CPU s per GiB uploaded | Complete | "
              "emulator CPU s per GiB completed |\n|---|---|---|---|---|---|")
        s3_multipart(endpoint, moto.pid, args.mib)
        print("\nDynamoDB: recording one part, as the streamed tasks table accumulates updates:\n")
        print("| updates of the tasks table so far | TransactWriteItems | PutItem + UpdateItem |\n|---|---|---|")
        dynamodb_records(endpoint)
    finally:
        terminate([moto], grace=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
