"""One module per diagnosis rule; each exposes `evaluate(ctx) -> Finding` for its condition type."""
