"""PrometheusSettings: environment variables, validation, secrets kept out of repr, token re-read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
from pydantic import ValidationError

from modelscaler.metrics.settings import CredentialsAuth, FileSecret, PrometheusSettings, build_session


def test_defaults() -> None:
    settings = PrometheusSettings()
    assert settings.url == "http://127.0.0.1:9090"
    assert settings.timeout_seconds == 5.0
    assert not settings.insecure_skip_verify


def test_from_environment() -> None:
    settings = PrometheusSettings.from_env(
        {
            "MODELSCALER_PROMETHEUS_URL": "https://prom.example:9090/",
            "MODELSCALER_PROMETHEUS_TIMEOUT_SECONDS": "2.5",
            "MODELSCALER_PROMETHEUS_HEADERS": "X-Scope-OrgID=tenant-1, X-Other = v",
            "MODELSCALER_PROMETHEUS_CA_FILE": "/etc/ca.pem",
            "MODELSCALER_PROMETHEUS_SCRAPE_INTERVAL_SECONDS": "30",
            "MODELSCALER_PROMETHEUS_DEPLOYMENT_LABEL": "md",
            "MODELSCALER_PROMETHEUS_INSECURE_SKIP_VERIFY": "",
            "UNRELATED": "x",
        }
    )
    assert settings.url == "https://prom.example:9090"
    assert settings.timeout_seconds == 2.5
    assert {k: v.get_secret_value() for k, v in settings.headers.items()} == {
        "X-Scope-OrgID": "tenant-1",
        "X-Other": "v",
    }
    assert settings.ca_file == Path("/etc/ca.pem")
    assert settings.labels.deployment == "md"


def test_headers_as_json() -> None:
    settings = PrometheusSettings.from_env({"MODELSCALER_PROMETHEUS_HEADERS": '{"X-Scope-OrgID": "a,b=c"}'})
    assert settings.headers["X-Scope-OrgID"].get_secret_value() == "a,b=c"


def test_secrets_never_show_in_repr() -> None:
    settings = PrometheusSettings(
        username="u",
        password="hunter2",
        headers={"X-Api-Key": "sekrit"},
    )
    for text in (repr(settings), str(settings), str(settings.model_dump())):
        assert "hunter2" not in text
        assert "sekrit" not in text
    assert "hunter2" not in repr(CredentialsAuth(settings))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"url": "prom:9090"}, "http"),
        ({"username": "u", "bearer_token_file": "/t"}, "not both"),
        ({"password": "p"}, "needs a username"),
        ({"username": "u", "password": "p", "password_file": "/p"}, "not both"),
        ({"cert_file": "/c"}, "both cert_file and key_file"),
        ({"deployment_label": "bad-label"}, "label name"),
        ({"headers": {"Bad Header": "x"}}, "invalid header"),
        ({"headers": {"X": "a\r\nInjected: 1"}}, "line break"),
        ({"headers": {"Authorization": "Bearer x"}, "bearer_token_file": "/t"}, "conflicts"),
        ({"timeout_seconds": 0}, "greater than 0"),
        ({"surprise": 1}, "Extra inputs"),
    ],
)
def test_invalid_settings_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PrometheusSettings.model_validate(values)


def test_bearer_token_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    secret = FileSecret(token)
    assert secret.value().get_secret_value() == "first"
    token.write_text("second-token")
    stat = token.stat()
    os.utime(token, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert secret.value().get_secret_value() == "second-token"
    assert "second" not in repr(secret)


def test_session_carries_tls_headers_and_auth(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("abc")
    settings = PrometheusSettings(
        bearer_token_file=token,
        ca_file=tmp_path / "ca.pem",
        cert_file=tmp_path / "c.pem",
        key_file=tmp_path / "k.pem",
        headers={"X-Scope-OrgID": "t1"},
    )
    session = build_session(settings)
    assert session.verify == str(tmp_path / "ca.pem")
    assert session.cert == (str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))
    assert session.headers["X-Scope-OrgID"] == "t1"
    prepared = session.prepare_request(requests.Request("GET", "http://127.0.0.1/x"))
    assert prepared.headers["Authorization"] == "Bearer abc"


def test_insecure_only_on_request() -> None:
    assert build_session(PrometheusSettings()).verify is True
    assert build_session(PrometheusSettings(insecure_skip_verify=True)).verify is False


def test_basic_auth_from_password_file(tmp_path: Path) -> None:
    password = tmp_path / "pw"
    password.write_text("s3cret\n")
    session = build_session(PrometheusSettings(username="me", password_file=password))
    prepared = session.prepare_request(requests.Request("GET", "http://127.0.0.1/x"))
    assert prepared.headers["Authorization"] == "Basic bWU6czNjcmV0"
