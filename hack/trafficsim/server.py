"""HTTP endpoints on 127.0.0.1: the pods' /metrics pages and the control API.

- ``GET  /metrics/<namespace>/<pod>``   a pod's metrics (404 for a pod the simulator does not know)
- ``PUT  /traffic/<namespace>/<name>``  set a deployment's profile (JSON body; 400 with the errors if invalid)
- ``DELETE /traffic/<namespace>/<name>``
- ``GET  /traffic``                     profiles and live figures per deployment
- ``GET  /healthz``
"""

from __future__ import annotations

import json
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog
from pydantic import ValidationError

from .profile import TrafficProfile
from .service import TrafficService
from .traces import TraceError

MAX_BODY_BYTES = 1 << 20
EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

log = structlog.get_logger("trafficsim.http")


class SimulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows the simulator it fronts."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: TrafficService) -> None:
        super().__init__(address, SimulatorRequestHandler)
        self.service = service


class SimulatorRequestHandler(BaseHTTPRequestHandler):
    """Routes requests to the TrafficService."""

    server: SimulatorHTTPServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        """Metrics pages, the status listing and the health check."""
        parts = self._path_parts()
        service = self.server.service
        if len(parts) == 3 and parts[0] == "metrics":
            page = service.pod_metrics(parts[1], parts[2])
            if page is None:
                self._send_json(HTTPStatus.NOT_FOUND, {"error": f"unknown pod {parts[1]}/{parts[2]}"})
            else:
                self._send(HTTPStatus.OK, page.encode(), EXPOSITION_CONTENT_TYPE)
        elif parts == ["traffic"]:
            self._send_json(HTTPStatus.OK, {"deployments": service.status()})
        elif parts == ["healthz"]:
            healthy = service.healthy()
            self._send_json(
                HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE, {"healthy": healthy}
            )
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_PUT(self) -> None:
        """Set a deployment's profile."""
        parts = self._path_parts()
        if len(parts) != 3 or parts[0] != "traffic":
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "PUT /traffic/<namespace>/<name>"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
            return
        body = self.rfile.read(length)
        try:
            profile = TrafficProfile.model_validate_json(body or b"{}")
            self.server.service.set_profile((parts[1], parts[2]), profile)
        except ValidationError as error:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": "invalid profile", "details": _errors(error)})
            return
        except (OSError, TraceError) as error:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": f"trace: {error}"})
            return
        self._send_json(
            HTTPStatus.OK,
            {
                "namespace": parts[1],
                "name": parts[2],
                "profile": profile.model_dump(mode="json", by_alias=True),
            },
        )

    def do_DELETE(self) -> None:
        """Remove a deployment's profile."""
        parts = self._path_parts()
        if len(parts) != 3 or parts[0] != "traffic":
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "DELETE /traffic/<namespace>/<name>"})
        elif self.server.service.delete_profile((parts[1], parts[2])):
            self._send_json(HTTPStatus.OK, {"deleted": f"{parts[1]}/{parts[2]}"})
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no profile for {parts[1]}/{parts[2]}"})

    def log_message(self, format: str, *args: object) -> None:
        """Route the server's access log to structlog at debug level (scrapes are frequent)."""
        log.debug("http", client=self.address_string(), line=format % args)

    def _path_parts(self) -> list[str]:
        return [part for part in self.path.split("?", 1)[0].split("/") if part]

    def _send_json(self, status: HTTPStatus, payload: object) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _errors(error: ValidationError) -> list[dict[str, str]]:
    return [
        {"loc": ".".join(str(part) for part in item["loc"]), "msg": item["msg"]} for item in error.errors()
    ]
