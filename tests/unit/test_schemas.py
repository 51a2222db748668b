"""Request validation: good input is normalised, bad input is refused naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.api.errors import ValidationFailed
from chalicelib.api.schemas import parse
from chalicelib.downloads.schemas import MAX_HEADERS, AddDownload, DeleteQuery, ListQuery, PatchDownload

URL = "https://example.com/files/movie.mkv"
SHA256 = "a" * 64


def refused(model: type, data: Any, where: str = "body") -> dict[str, str]:
    """The details of a refusal, as field -> message."""
    with pytest.raises(ValidationFailed) as info:
        parse(model, data, where)  # type: ignore[arg-type]
    exc = info.value
    assert exc.status == 422 and exc.code == "VALIDATION_ERROR"
    assert exc.details, "a refusal must say what is wrong"
    for d in exc.details:
        assert set(d) == {"field", "message"} and d["field"] and d["message"]
        assert "Traceback" not in d["message"]
    return {d["field"]: d["message"] for d in exc.details}


# -- AddDownload -------------------------------------------------------------------------


def test_minimal_add() -> None:
    req = parse(AddDownload, {"url": URL})
    assert req.url == URL
    assert (req.filename, req.priority, req.headers, req.checksum, req.tags) == (None, 0, {}, None, [])


def test_full_add_is_normalised() -> None:
    req = parse(AddDownload, {
        "url": f"  {URL}  ", "filename": "../../etc/passwd", "priority": "high",
        "headers": {"Authorization": "Bearer x", "Cookie": "a=b"}, "checksum": "sha256:" + "AB" * 32,
        "category": "films", "tags": ["hd", "2024"], "batch_name": "Season 1",
    })
    assert req.url == URL
    assert req.filename == "passwd"
    assert req.priority == 10
    assert req.checksum == "sha256:" + "ab" * 32
    assert req.tags == ["hd", "2024"]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/file", "file:///etc/passwd", "gopher://x/", "javascript:alert(1)",
        "example.com/file", "//example.com/file", "http://", "https:///path", "http:// spaces.com/x",
        "http://exa mple.com/", "", "   ", "http://[::1/x", "http://host:99999/x", "http://host:port/x",
        "https://" + "a" * 2048,
    ],
)
def test_bad_url_is_refused_naming_url(url: str) -> None:
    assert list(refused(AddDownload, {"url": url})) == ["url"]


@pytest.mark.parametrize("url", ["http://example.com", "HTTPS://EXAMPLE.COM/X", "http://127.0.0.1:8080/a?b=c#d",
                                 "https://[2001:db8::1]/f", "https://user:pw@host/f", "https://host/ünï.bin"])
def test_good_urls(url: str) -> None:
    assert parse(AddDownload, {"url": url}).url == url


@pytest.mark.parametrize("body", [{}, {"filename": "x"}, {"url": None}, {"url": 5}, {"url": ["http://x/"]}])
def test_missing_or_mistyped_url(body: dict[str, Any]) -> None:
    assert "url" in refused(AddDownload, body)


def test_unknown_fields_are_refused_by_name() -> None:
    fields = refused(AddDownload, {"url": URL, "speed": 5, "Url": URL})
    assert fields == {"speed": "is not a known field", "Url": "is not a known field"}


@pytest.mark.parametrize("limit", [0, 16 * 1024, 5_000_000, 100 * 1024**3])
def test_speed_limit_in_range(limit: int) -> None:
    assert parse(AddDownload, {"url": URL, "speed_limit": limit}).speed_limit == limit
    assert parse(PatchDownload, {"speed_limit": limit}).speed_limit == limit


@pytest.mark.parametrize("limit", [1, 16 * 1024 - 1, 100 * 1024**3 + 1, -1, True, "fast", 1.5])
def test_speed_limit_out_of_range(limit: Any) -> None:
    assert list(refused(AddDownload, {"url": URL, "speed_limit": limit})) == ["speed_limit"]
    assert list(refused(PatchDownload, {"speed_limit": limit})) == ["speed_limit"]


def test_speed_limit_null_resets_and_absent_leaves_unchanged() -> None:
    assert parse(AddDownload, {"url": URL}).speed_limit is None
    assert "speed_limit" in parse(PatchDownload, {"speed_limit": None}).model_fields_set
    assert "speed_limit" not in parse(PatchDownload, {"priority": "LOW"}).model_fields_set


def test_allow_duplicate_defaults_to_false() -> None:
    assert parse(AddDownload, {"url": URL}).allow_duplicate is False
    assert parse(AddDownload, {"url": URL, "allow_duplicate": True}).allow_duplicate is True


@pytest.mark.parametrize("priority", ["URGENT", "", 101, -101, "101", 1.5, True, None, [], {"n": 1}])
def test_bad_priority(priority: Any) -> None:
    assert refused(AddDownload, {"url": URL, "priority": priority}) == {
        "priority": "must be LOW, NORMAL, HIGH or a number from -100 to 100"
    }


@pytest.mark.parametrize(
    ("priority", "value"), [("LOW", -10), ("normal", 0), ("High", 10), (-100, -100), (100, 100), ("55", 55)]
)
def test_priority_names_and_numbers(priority: Any, value: int) -> None:
    assert parse(AddDownload, {"url": URL, "priority": priority}).priority == value


@pytest.mark.parametrize(
    "name",
    ["Range", "range", "RANGE", "If-Range", "Host", "Content-Length", "Transfer-Encoding", "Connection",
     "Accept-Encoding", "TE", "Upgrade", "Expect", "Proxy-Authorization"],
)
def test_reserved_headers_are_refused(name: str) -> None:
    fields = refused(AddDownload, {"url": URL, "headers": {name: "x"}})
    assert list(fields) == ["headers"]
    assert name in fields["headers"] and "cannot be overridden" in fields["headers"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Bad Header": "x"}, {"": "x"}, {"X-Évil": "x"}, {"X:Y": "x"}, {"a" * 129: "x"},
        {"X-Token": "a\r\nInjected: 1"}, {"X-Token": "a\nb"}, {"X-Token": "a\x00b"}, {"X-Token": "v" * 8193},
        {f"X-H{i}": "v" for i in range(MAX_HEADERS + 1)},
    ],
)
def test_bad_headers_are_refused(headers: dict[str, str]) -> None:
    assert list(refused(AddDownload, {"url": URL, "headers": headers})) == ["headers"]


def test_header_value_of_the_wrong_type_names_the_header() -> None:
    assert list(refused(AddDownload, {"url": URL, "headers": {"X-Count": 5}})) == ["headers.X-Count"]


def test_good_headers() -> None:
    headers = {"Authorization": "Bearer abc.def", "Cookie": "a=b; c=d", "X-Custom_1": "ok", "User-Agent": "me"}
    assert parse(AddDownload, {"url": URL, "headers": headers}).headers == headers


@pytest.mark.parametrize(
    ("checksum", "normalised"),
    [
        ("sha256:" + SHA256, "sha256:" + SHA256),
        ("sha256:" + "F" * 64, "sha256:" + "f" * 64),
        ("md5:" + "0" * 32, "md5:" + "0" * 32),
        ("sha1:" + "1" * 40, "sha1:" + "1" * 40),
        ("sha512:" + "2" * 128, "sha512:" + "2" * 128),
    ],
)
def test_good_checksums(checksum: str, normalised: str) -> None:
    assert parse(AddDownload, {"url": URL, "checksum": checksum}).checksum == normalised


@pytest.mark.parametrize(
    "checksum",
    ["sha256:" + "a" * 63, "sha256:" + "a" * 65, "sha256:" + "g" * 64, SHA256, "crc32:deadbeef",
     "sha256=" + SHA256, "md5:" + "0" * 64, "sha256:", "", "sha256: " + SHA256],
)
def test_bad_checksums(checksum: str) -> None:
    assert list(refused(AddDownload, {"url": URL, "checksum": checksum})) == ["checksum"]


@pytest.mark.parametrize("filename", ["", "   "])
def test_empty_filename_is_refused(filename: str) -> None:
    assert list(refused(AddDownload, {"url": URL, "filename": filename})) == ["filename"]


def test_filename_is_sanitised() -> None:
    assert parse(AddDownload, {"url": URL, "filename": "..\\..\\x:y.txt"}).filename == "x_y.txt"
    assert parse(AddDownload, {"url": URL, "filename": "日本語.mkv"}).filename == "日本語.mkv"


def test_tags() -> None:
    assert list(refused(AddDownload, {"url": URL, "tags": [""]})) == ["tags"]
    assert list(refused(AddDownload, {"url": URL, "tags": ["x" * 51]})) == ["tags"]
    assert list(refused(AddDownload, {"url": URL, "tags": [str(i) for i in range(21)]})) == ["tags"]
    assert list(refused(AddDownload, {"url": URL, "tags": [1]})) == ["tags.0"]
    assert list(refused(AddDownload, {"url": URL, "tags": "hd"})) == ["tags"]


def test_every_bad_field_is_reported_at_once() -> None:
    fields = refused(AddDownload, {"url": "ftp://x", "priority": "max", "checksum": "nope", "extra": 1})
    assert set(fields) == {"url", "priority", "checksum", "extra"}


def test_the_message_summarises_the_fields() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse(AddDownload, {"url": "ftp://x/y"})
    assert info.value.message.startswith("invalid body: url: ")


@pytest.mark.parametrize("data", [[], "url", 5, True, [{"url": URL}]])
def test_body_must_be_an_object(data: Any) -> None:
    assert refused(AddDownload, data) == {"body": "must be an object"}


def test_no_body_is_an_empty_object() -> None:
    assert refused(AddDownload, None) == {"url": "Field required"}


# -- PatchDownload -----------------------------------------------------------------------


def test_patch() -> None:
    assert parse(PatchDownload, {}).model_dump() == {"priority": None, "filename": None, "speed_limit": None,
                                                     "metadata": None, "path": None, "naming": None, "replace": False}
    assert parse(PatchDownload, {"priority": "LOW"}).priority == -10
    assert parse(PatchDownload, {"priority": None}).priority is None
    assert parse(PatchDownload, {"filename": "../a/b.txt"}).filename == "b.txt"


def test_bad_patch() -> None:
    assert list(refused(PatchDownload, {"priority": "top"})) == ["priority"]
    assert list(refused(PatchDownload, {"priority": 1000})) == ["priority"]
    assert list(refused(PatchDownload, {"filename": ""})) == ["filename"]
    assert list(refused(PatchDownload, {"filename": "  "})) == ["filename"]
    assert list(refused(PatchDownload, {"filename": "x" * 1025})) == ["filename"]
    assert list(refused(PatchDownload, {"state": "paused"})) == ["state"]
    assert list(refused(PatchDownload, {"url": URL})) == ["url"]


# -- query strings -----------------------------------------------------------------------


def test_list_query_from_strings() -> None:
    q = parse(ListQuery, {"status": "queued", "page": "3", "per_page": "20"}, "query")
    assert (q.status, q.page, q.per_page, q.cursor) == ("queued", 3, 20, None)
    q = parse(ListQuery, {}, "query")
    assert (q.status, q.page, q.per_page) == (None, 1, 50)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "done"}, "status"), ({"status": "QUEUED"}, "status"), ({"status": ""}, "status"),
        ({"page": "0"}, "page"), ({"page": "-1"}, "page"), ({"page": "x"}, "page"), ({"page": "1.5"}, "page"),
        ({"per_page": "0"}, "per_page"), ({"per_page": "501"}, "per_page"), ({"sort": "name"}, "sort"),
        ({"page": "9" * 50}, "page"),
    ],
)
def test_bad_list_query(query: dict[str, str], field: str) -> None:
    assert list(refused(ListQuery, query, "query")) == [field]


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("false", False), ("1", True), ("0", False), ("yes", True)])
def test_delete_query(raw: str, value: bool) -> None:
    assert parse(DeleteQuery, {"delete_file": raw}, "query").delete_file is value


def test_bad_delete_query() -> None:
    assert list(refused(DeleteQuery, {"delete_file": "maybe"}, "query")) == ["delete_file"]
    assert list(refused(DeleteQuery, {"force": "1"}, "query")) == ["force"]
    with pytest.raises(ValidationFailed) as info:
        parse(DeleteQuery, {"delete_file": "maybe"}, "query")
    assert info.value.message.startswith("invalid query: ")
