"""`python -m exporter.healthcheck [URL]`: exit 0 if URL (default $NANOBANANA_HEALTHCHECK_URL, else
http://127.0.0.1:9877/-/healthy) answers 200, else 1. The container's HEALTHCHECK: slim images have
no curl. An https URL is checked without verifying the certificate: this only asks "is it up?"."""

from __future__ import annotations

import os
import ssl
import sys
import urllib.error
import urllib.request

DEFAULT = "http://127.0.0.1:9877/-/healthy"


def main(argv: list[str]) -> int:
    url = argv[0] if argv else os.environ.get("NANOBANANA_HEALTHCHECK_URL", DEFAULT)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            ok = response.status == 200
    except (urllib.error.URLError, OSError) as err:
        print(f"unhealthy: {url}: {err}", file=sys.stderr)
        return 1
    print(f"{'healthy' if ok else 'unhealthy'}: {url}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
