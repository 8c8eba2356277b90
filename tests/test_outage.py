"""A database that cannot be reached is a 503 with Retry-After, never a 500."""

from __future__ import annotations

import socket

import pytest


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def unreachable(tmp_path):
    from grader.service import create_app

    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/test?connect_timeout=2"
    app = create_app(
        {
            "DATABASE_URL": url,
            "BROKER_URL": "memory://",
            "SECRET_KEY": "test",
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    yield app
    app.extensions["db"].engine.dispose()


def test_api_calls_get_503_with_retry_after_when_the_database_is_down(unreachable):
    client = unreachable.test_client()
    r = client.post(
        "/api/v1/assignments/ml-health-check/submissions",
        data="## Step 1\n\nanswer\n",
        headers={"Authorization": "Bearer grader_abc", "Content-Type": "text/markdown"},
    )
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    body = r.get_json()
    assert body["error"]["code"] == "service_unavailable"
    assert "nothing was saved" in body["error"]["message"]
    assert client.get("/readyz").status_code == 503


def test_pages_get_503_with_retry_after_when_the_database_is_down(unreachable):
    from .browser.support import csrf_from

    client = unreachable.test_client()
    form = client.get("/login").get_data(as_text=True)  # needs no database
    r = client.post(
        "/login",
        data={"csrf_token": csrf_from(form), "email": "a@b.test", "password": "x"},
        headers={"Accept": "text/html"},
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert "nothing was saved" in page and "Traceback" not in page
