"""Why this room: small helpers every other room shares (files, bounded bodies, TLS, redaction, logs, text, schedules), with no knowledge of probes."""
