"""Structured logs: JSON in the cluster, console locally, through structlog.

Every line about a ModelDeployment carries its `namespace` and `name`: bind them
with `log_for(namespace, name)`. Standard-library loggers (kopf, kubernetes,
urllib3) are routed through the same renderer so one process writes one format.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog


def configure_logging(fmt: str = "console", level: str = "info") -> None:
    """Configures structlog and the standard logging module once, for the whole process."""
    numeric_level = getattr(logging, level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric_level)
    # The Kubernetes client logs every request at debug; keep it quieter than ours.
    for noisy in ("urllib3", "kubernetes", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(numeric_level, logging.WARNING))


def log_for(namespace: str, name: str) -> Any:
    """A logger bound to one ModelDeployment: its namespace and name on every line."""
    return structlog.get_logger("modelscaler").bind(namespace=namespace, name=name)
