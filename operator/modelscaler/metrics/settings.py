"""How to reach Prometheus: URL, authentication, TLS, headers, timeouts. From MODELSCALER_PROMETHEUS_*.

Secrets (password, header values) are `SecretStr`: they show as '**********' in repr,
logs and errors. The bearer token is read from a file (a projected service-account
token rotates), re-read whenever the file's mtime or size changes.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from modelscaler.metrics.contract import SeriesLabels, validate_label_name

ENV_PREFIX = "MODELSCALER_PROMETHEUS_"


class PrometheusSettings(BaseModel):
    """Connection settings of the Prometheus source.

    Environment variables (prefix MODELSCALER_PROMETHEUS_): URL, BEARER_TOKEN_FILE, USERNAME,
    PASSWORD, PASSWORD_FILE, CA_FILE, CERT_FILE, KEY_FILE, INSECURE_SKIP_VERIFY, HEADERS
    (JSON object or `Name=value,Name2=value2`), TIMEOUT_SECONDS, SCRAPE_INTERVAL_SECONDS,
    MAX_PARALLEL_QUERIES, ENGINE_RECHECK_SECONDS, NAMESPACE_LABEL, DEPLOYMENT_LABEL.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = "http://127.0.0.1:9090"
    bearer_token_file: Path | None = None
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure_skip_verify: bool = False
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    scrape_interval_seconds: float = Field(default=15.0, gt=0, le=3600)
    max_parallel_queries: int = Field(default=8, ge=1, le=64)
    engine_recheck_seconds: float = Field(default=300.0, ge=0)
    namespace_label: str = "namespace"
    deployment_label: str = "modeldeployment"

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("namespace_label", "deployment_label")
    @classmethod
    def _label_names(cls, value: str) -> str:
        return validate_label_name(value)

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name in value:
            if not name or any(c in name for c in ":\r\n ") or not name.isascii():
                raise ValueError(f"invalid header name {name!r}")
            if any(c in value[name].get_secret_value() for c in "\r\n"):
                raise ValueError(f"header {name!r} has a line break in its value")
        return value

    @model_validator(mode="after")
    def _one_auth(self) -> PrometheusSettings:
        basic = self.username is not None or self.password is not None or self.password_file is not None
        if basic and self.bearer_token_file is not None:
            raise ValueError("choose basic auth or a bearer token file, not both")
        if self.password is not None and self.password_file is not None:
            raise ValueError("choose password or password_file, not both")
        if (self.password is not None or self.password_file is not None) and self.username is None:
            raise ValueError("a password needs a username")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")
        if any(name.lower() == "authorization" for name in self.headers) and (
            basic or self.bearer_token_file
        ):
            raise ValueError("an Authorization header conflicts with basic auth or a bearer token file")
        return self

    @property
    def labels(self) -> SeriesLabels:
        """The series labels that name a deployment's series."""
        return SeriesLabels(namespace=self.namespace_label, deployment=self.deployment_label)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PrometheusSettings:
        """Settings from MODELSCALER_PROMETHEUS_* variables (unset ones keep their defaults)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is None or raw == "":
                continue
            values[name] = _parse_headers(raw) if name == "headers" else raw
        return cls.model_validate(values)


def _parse_headers(raw: str) -> dict[str, str]:
    text = raw.strip()
    if text.startswith("{"):
        parsed = json.loads(text)
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise ValueError("MODELSCALER_PROMETHEUS_HEADERS must be a JSON object of strings")
        return {str(k): v for k, v in parsed.items()}
    out: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"header {part.strip()!r} has no '='")
        out[name.strip()] = value.strip()
    return out


class FileSecret:
    """A secret read from a file, re-read when the file's mtime or size changes. Thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._value = SecretStr("")

    def value(self) -> SecretStr:
        """The current content, stripped of surrounding whitespace."""
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._value = SecretStr(self.path.read_text(encoding="utf-8").strip())
                self._stamp = stamp
            return self._value

    def __repr__(self) -> str:
        return f"FileSecret({str(self.path)!r})"


class CredentialsAuth(requests.auth.AuthBase):
    """Adds the Authorization header per request: a bearer token from a file, or basic auth."""

    def __init__(self, settings: PrometheusSettings) -> None:
        self._token = FileSecret(settings.bearer_token_file) if settings.bearer_token_file else None
        self._password_file = FileSecret(settings.password_file) if settings.password_file else None
        self._username = settings.username
        self._password = settings.password

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._token is not None:
            request.headers["Authorization"] = "Bearer " + self._token.value().get_secret_value()
        elif self._username is not None:
            password = self._password_file.value() if self._password_file else self._password
            secret = password.get_secret_value() if password else ""
            return requests.auth.HTTPBasicAuth(self._username, secret)(request)
        return request

    def __repr__(self) -> str:
        return "CredentialsAuth(***)"


def build_session(settings: PrometheusSettings) -> requests.Session:
    """A requests Session with the TLS settings and extra headers (auth is per request)."""
    session = requests.Session()
    if settings.insecure_skip_verify:
        session.verify = False
    elif settings.ca_file is not None:
        session.verify = str(settings.ca_file)
    if settings.cert_file is not None and settings.key_file is not None:
        session.cert = (str(settings.cert_file), str(settings.key_file))
    session.headers.update({k: v.get_secret_value() for k, v in settings.headers.items()})
    if settings.bearer_token_file or settings.username:
        session.auth = CredentialsAuth(settings)
    session.trust_env = False  # no proxy or netrc surprises: the settings say everything
    return session
