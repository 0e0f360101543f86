"""The traffic profile of one deployment: what arrives, how long it takes, how much a pod can carry.

A profile is the JSON body of ``PUT /traffic/<namespace>/<name>`` and an entry of ``--config``; pydantic
validates it so that a typo or a negative rate is refused with the field's path.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Engine = Literal["generic", "vllm", "sglang"]
TraceFormat = Literal["azure", "mooncake", "servegen", "csv"]


class _Strict(BaseModel):
    """Base of every profile part: unknown fields are errors, values are frozen once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TraceSpec(_Strict):
    """A trace file replayed as arrivals; ``compress`` = 10 plays ten trace seconds per real second.

    Formats and their reading are those of the what-if simulator (``docs/simulator.md``); no format:
    detected from the file name.
    """

    path: str = Field(min_length=1, description="file path; $VARIABLES are expanded")
    format: TraceFormat | None = None
    compress: float = Field(default=1.0, gt=0)
    loop: bool = False


class ServiceSpec(_Strict):
    """How long one request occupies a serving slot, and when its first byte/token leaves.

    kind ``auto``: the trace's service times (its service column, or its tokens through the token model)
    when replaying a trace, else ``constant``. ``tokens``: base + per-token costs, from the trace's
    tokens or the profile's ``tokens``. ``constant`` / ``exponential`` override a trace's service times.
    """

    kind: Literal["auto", "constant", "exponential", "tokens"] = "auto"
    seconds: float = Field(default=0.5, gt=0, description="service time (mean for exponential)")
    first_byte_fraction: float = Field(
        default=0.1, ge=0, le=1, description="share of the service time before the first byte (constant/exp.)"
    )
    base: float = Field(default=0.1, ge=0, description="tokens: fixed cost per request, seconds")
    per_prompt_token: float = Field(default=0.0001, ge=0, description="tokens: prefill seconds per token")
    per_output_token: float = Field(default=0.01, ge=0, description="tokens: decode seconds per token")


class TokenSpec(_Strict):
    """Token counts of each request: for the token counters, KV-cache usage and body sizes, and for the
    token model when a trace carries no tokens."""

    prompt: int = Field(default=512, ge=0)
    output: int = Field(default=128, ge=0)


class DegradeSpec(_Strict):
    """Service slows by ``factor`` when a pod holds more than ``above`` requests (in service + waiting)."""

    above: float = Field(ge=0)
    factor: float = Field(ge=1)


class TrafficProfile(_Strict):
    """Traffic and serving behaviour of one deployment. At most one of rate, steps and trace; none = idle."""

    engine: Engine = "generic"
    rate: float | None = Field(default=None, ge=0, description="Poisson arrivals per second")
    steps: list[tuple[float, float]] | None = Field(
        default=None,
        min_length=1,
        description="piecewise-constant Poisson rate: [[offset_seconds, rate], ...] from the PUT",
    )
    period: float | None = Field(default=None, gt=0, description="steps repeat with this period, seconds")
    trace: TraceSpec | None = None
    service: ServiceSpec = ServiceSpec()
    tokens: TokenSpec = TokenSpec()
    capacity: int = Field(default=4, ge=1, description="requests one pod serves at once")
    queue_limit: int = Field(default=100, ge=0, description="requests waiting per pod before 503")
    timeout: float = Field(default=30.0, ge=0, description="seconds a request waits for a Ready pod")
    degrade: DegradeSpec | None = None
    async_mode: bool = Field(default=False, alias="async", description="pods pull from a shared async queue")
    model_name: str | None = Field(default=None, description="model_name label (vllm/sglang); default: name")
    kv_cache_tokens: int | None = Field(
        default=None,
        ge=1,
        description="KV-cache size per pod in tokens; default: capacity x (prompt + output)",
    )
    seed: int | None = None

    @model_validator(mode="after")
    def _one_arrival_source(self) -> TrafficProfile:
        sources = [name for name in ("rate", "steps", "trace") if getattr(self, name) is not None]
        if len(sources) > 1:
            raise ValueError(f"give at most one of rate, steps, trace (got {', '.join(sources)})")
        if self.steps is not None:
            offsets = [offset for offset, _ in self.steps]
            if offsets != sorted(offsets) or offsets[0] != 0:
                raise ValueError("steps must start at offset 0 and be sorted by offset")
            if any(rate < 0 for _, rate in self.steps):
                raise ValueError("step rates must be >= 0")
        if self.period is not None and (self.steps is None or self.period <= self.steps[-1][0]):
            raise ValueError("period applies to steps only and must exceed the last step's offset")
        return self

    def step_schedule(self) -> list[tuple[float, float]]:
        """The arrival rate as steps: ``rate`` is one step from 0, no source is a rate of 0."""
        if self.steps is not None:
            return list(self.steps)
        return [(0.0, self.rate or 0.0)]
