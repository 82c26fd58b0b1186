#!/usr/bin/env bash
# Installs what the tests need (Python packages; Debian's prometheus and prometheus-alertmanager for
# the real-stack tests, prometheus-blackbox-exporter for the benchmark's smoke test, chromium for the
# report's screenshot test, jsonnet for the mixin) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v promtool >/dev/null || ! command -v prometheus-alertmanager >/dev/null \
    || ! command -v prometheus-blackbox-exporter >/dev/null || ! command -v chromium >/dev/null \
    || ! command -v jsonnet >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus prometheus-alertmanager \
    prometheus-blackbox-exporter chromium jsonnet >/dev/null
fi
python3 -m pip install -q -e '.[test]'
python3 -m pytest -q "$@"
