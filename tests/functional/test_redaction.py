"""No secrets in logs and answers (issue #11, item 11): URL credentials and query values of a
download that fails never reach its error, the activity log or a log line."""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.downloads.schemas import AddDownload
from chalicelib.observability.logs import JsonFormatter, TextFormatter
from tests.support.engine import OWNER, wait_finished
from tests.support.ports import free_port

pytestmark = pytest.mark.usefixtures("settled")
SECRETS = ("hunter2", "tok-abc123", "sig-deadbeef", "cred-AKIA")


def test_a_failed_download_keeps_its_secrets_out_of_errors_activity_and_logs(
    svc, workers, caplog: pytest.LogCaptureFixture,
) -> None:
    from chalicelib.persistence.models import ActivityModel

    svc.settings.update({"retry_max_attempts": 1})
    closed = free_port()  # nothing listens: the fetch fails with requests' own message, URL and all
    url = (f"http://alice:hunter2@127.0.0.1:{closed}/f.bin?token=tok-abc123&X-Amz-Signature=sig-deadbeef"
           "&X-Amz-Credential=cred-AKIA")
    caplog.set_level(logging.INFO)
    task = svc.downloads.add(OWNER, AddDownload(url=url))
    done = wait_finished(svc, task.id)
    assert done.state == TaskState.FAILED and done.error
    assert "token=***" in done.error or "cannot reach" in done.error, done.error
    svc.activity.record(owner=OWNER.user_id, actor="test", kind="test.redaction", message=f"fetching {url}",
                        data={"url": url, "nested": [url]})
    entries = [e for e in ActivityModel.query(f"u#{OWNER.user_id}") if e.kind == "test.redaction"]
    assert entries and "X-Amz-Signature=***" in entries[-1].message
    stored = json.dumps([e.attribute_values for e in entries], default=str)
    lines = [JsonFormatter().format(r) for r in caplog.records] + [TextFormatter().format(r) for r in caplog.records]
    assert any("127.0.0.1" in line for line in lines)  # the logs did speak of it...
    for text in (done.error, stored, *lines):
        for secret in SECRETS:  # ...without a secret
            assert secret not in text, (secret, text[:300])
