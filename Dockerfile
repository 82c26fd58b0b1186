# syntax=docker/dockerfile:1
# nanobanana-exporter: the exporter and, with `relay` as first argument, the Alertmanager relay.
#   docker build -t nanobanana-exporter .
#   docker run --rm -p 9877:9877 nanobanana-exporter --demo
#   docker run --rm -p 9877:9877 -v ./nanobanana.yml:/etc/nanobanana/nanobanana.yml:ro -e GEMINI_API_KEY nanobanana-exporter
# No secrets are baked in: API keys come from the environment or mounted files at run time.

# --- build: a wheel of the project and of every dependency --------------------------------------
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# --- run: the wheels installed offline, no build tools, not root -------------------------------
FROM python:3.11-slim
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels nanobanana-exporter \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin nanobanana \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/nanobanana
# The working directory holds the budget's state file (budget.state_file, relative by default):
# spend survives a restart. Mount a volume here to keep it across containers.
WORKDIR /var/lib/nanobanana
USER 10001:10001
ENV PYTHONUNBUFFERED=1
EXPOSE 9877 9878
# The relay listens on 9878: run it with NANOBANANA_HEALTHCHECK_URL=http://127.0.0.1:9878/-/healthy.
HEALTHCHECK --interval=30s --timeout=10s --start-period=15s --retries=3 \
    CMD ["python", "-m", "exporter.healthcheck"]
ENTRYPOINT ["nanobanana-exporter"]
CMD ["--config.file=/etc/nanobanana/nanobanana.yml"]
