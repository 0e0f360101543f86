"""modelscaler: a Kubernetes operator that autoscales model servers on request concurrency."""

__version__ = "0.1.0"
