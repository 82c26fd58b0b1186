"""Why this room: what the outside reads: /metrics, the landing page, OTLP, and the HTTP service the programs share."""
