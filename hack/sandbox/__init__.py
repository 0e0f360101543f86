"""The sandbox: the local cluster, the operator and demo models under simulated traffic (docs/sandbox.md)."""
