"""`nanobanana-exporter report`: availability, outages, latency, incidents and spend for a period,
read from Prometheus, written as HTML (with SVG charts) and Markdown."""
