"""The pure decision engine: decide() and its contract types. No I/O, no clock, no cluster."""

from modelscaler.engine.decide import decide
from modelscaler.engine.types import Decision, Memory, Mode, Observation, ScalingParams, WindowPoint

__all__ = ["Decision", "Memory", "Mode", "Observation", "ScalingParams", "WindowPoint", "decide"]
