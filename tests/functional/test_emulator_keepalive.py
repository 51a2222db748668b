"""The emulator keeps a client's connection open between requests (local_runtime/emulator/keepalive.py),
and a request's body, read by the application or not, is never taken for the next request."""

from __future__ import annotations

import json
import os
import socket
from typing import BinaryIO
from urllib.parse import urlsplit

import pytest

LIST_TABLES = {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"}
AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20261203/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0")


@pytest.fixture()
def address(emulator: str) -> tuple[str, int]:
    url = urlsplit(emulator)
    return url.hostname or "127.0.0.1", int(url.port or 80)


def request(
    method: str, path: str, headers: dict[str, str], body: bytes = b"", close: bool = False, service: str = "dynamodb",
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", "X-Amz-Date: 20261203T000000Z",
             f"Authorization: {AUTH.format(service=service)}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def answer(reader: BinaryIO) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer read off ``reader`` (the connection's file)."""
    status = reader.readline().decode()
    assert status.startswith("HTTP/1.1 "), status
    headers: dict[str, str] = {}
    while line := reader.readline().decode().strip():
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", "0")))
    return int(status.split()[1]), headers, body


def test_requests_share_one_connection(address) -> None:
    with socket.create_connection(address, timeout=10) as conn, conn.makefile("rb") as reader:
        for _ in range(3):
            conn.sendall(request("POST", "/", LIST_TABLES, b"{}"))
            status, headers, body = answer(reader)
            assert status == 200 and "TableNames" in json.loads(body)
            assert headers.get("connection", "").lower() != "close", headers


def test_a_body_the_application_does_not_read_is_not_the_next_request(address) -> None:
    # An S3 GET of a bucket that does not exist, with a body nobody reads (it looks like a
    # request), then a request on the same connection.
    junk = b"GET /not-a-request HTTP/1.1\r\n\r\n" + os.urandom(4096)
    with socket.create_connection(address, timeout=10) as conn, conn.makefile("rb") as reader:
        conn.sendall(request("GET", f"/no-such-bucket-{os.getpid()}", {}, junk, service="s3"))
        status, _, _ = answer(reader)
        assert status == 404
        conn.sendall(request("POST", "/", LIST_TABLES, b"{}"))
        status, _, body = answer(reader)
        assert status == 200 and "TableNames" in json.loads(body)


def test_a_client_that_asks_to_close_is_closed(address) -> None:
    with socket.create_connection(address, timeout=10) as conn, conn.makefile("rb") as reader:
        conn.sendall(request("POST", "/", LIST_TABLES, b"{}", close=True))
        status, headers, _ = answer(reader)
        assert status == 200 and headers.get("connection", "").lower() == "close"
        assert reader.read(1) == b""  # the server closed its side
