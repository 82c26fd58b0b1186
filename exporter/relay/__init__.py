"""`nanobanana-exporter relay`: Alertmanager webhooks in, signed Feishu / DingTalk / WeCom bot messages out.

A separate process from the prober, so the alert path does not die with it. Layers: config.py
(schema), alerts.py (the Alertmanager payload and the text every platform shows), one module per
platform (render, sign, read the reply) named in platforms.py, delivery.py (rate limits, retries,
deadline), server.py (HTTP), cli.py (flags).
"""
