"""nanobanana-exporter: end-to-end probes of Google's Nano Banana image models for Prometheus."""

__version__ = "0.1.0"
