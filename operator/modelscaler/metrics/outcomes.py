"""Typed outcomes of a query: a value, or Unknown with a reason. Unknown is never zero."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class UnknownKind(StrEnum):
    """Why a value is unknown. The values are CamelCase, usable as condition reasons."""

    HTTP_ERROR = "HttpError"  # a non-2xx answer (Prometheus' error JSON when it sent one)
    PROMETHEUS_ERROR = "PrometheusError"  # status "error" in a 2xx answer
    TIMEOUT = "Timeout"  # no answer within the query timeout
    CONNECTION_REFUSED = "ConnectionRefused"  # nothing listens at the URL
    UNREACHABLE = "Unreachable"  # other transport failure (DNS, TLS, reset)
    MALFORMED = "MalformedAnswer"  # not JSON, or JSON without the expected fields
    WRONG_RESULT_TYPE = "WrongResultType"  # matrix, scalar or string instead of a vector
    NO_DATA = "NoData"  # the deployment has no series in the answer
    STALE = "StaleData"  # the newest sample is older than two scrape intervals
    NOT_A_NUMBER = "NotANumber"  # NaN (e.g. a quantile or mean over no requests)
    INFINITE = "Infinite"  # ±Inf (e.g. a quantile above the highest finite bucket)
    NEGATIVE = "Negative"  # a negative value where none can be
    DUPLICATE_SERIES = "DuplicateSeries"  # the same deployment twice in one answer
    NOT_EXPORTED = "NotExported"  # the deployment's engine exports nothing for this signal
    ENGINE_UNKNOWN = "EngineUnknown"  # engine: auto, and no known series exist yet
    INVALID_OVERRIDE = "InvalidOverride"  # the spec's PromQL override was refused


@dataclass(frozen=True, slots=True)
class Unknown:
    """A value the operator does not know, naming the query that failed and why."""

    kind: UnknownKind
    query: str  # the query's name, e.g. "concurrency[60s]/vllm"
    detail: str = ""

    @property
    def reason(self) -> str:
        """One line for logs, status and Observation.unknown_reason."""
        detail = f": {self.detail}" if self.detail else ""
        return f"query {self.query} gave {self.kind.value}{detail}"


Reading = float | Unknown
"""A signal's value, or why it is unknown."""
