"""What of a URL may be shown in logs, the activity log and errors (chalicelib/domain/urls.py)."""

from __future__ import annotations

import pytest

from chalicelib.domain.urls import redact, redact_data


@pytest.mark.parametrize(("text", "shown"), [
    ("https://user:pass@files.example/a.iso", "https://***@files.example/a.iso"),
    ("ftp://only-user@host/x", "ftp://***@host/x"),
    ("https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12",
     "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=***&X-Amz-Credential=***&X-Amz-Signature=***"),
    ("see http://h/p?token=t0k and http://h/q?sig=s1g&se=2030", "see http://h/p?token=*** and http://h/q?sig=***&se=***"),
    ("Max retries exceeded with url: /f.bin?api_key=k3y (Caused by ...)",
     "Max retries exceeded with url: /f.bin?api_key=*** (Caused by ...)"),
    ("http://h/cb#access_token=abc&state=1", "http://h/cb#access_token=***&state=***"),
    ("{\"url\": \"http://u:p@h/x?a=b\"}", "{\"url\": \"http://***@h/x?a=***\"}"),
    ("nothing to hide: a = b, mail me@example.com", "nothing to hide: a = b, mail me@example.com"),
])
def test_credentials_and_query_values_are_redacted(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_redact_data_walks_containers() -> None:
    assert redact_data({"u": "http://h/?t=1", "n": [1, "http://a:b@h/"], "k": None}) == \
        {"u": "http://h/?t=***", "n": [1, "http://***@h/"], "k": None}
