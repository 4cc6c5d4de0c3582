"""The HTTP service: REST (API.md), the WebSocket progress stream, /metrics."""
