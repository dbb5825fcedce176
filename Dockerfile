# The whole project is copied (what is left out is in .dockerignore), so the image cannot
# drift from pyproject.toml: tests/test_packaging.py builds the wheel from exactly this.
FROM python:3.11-slim
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --create-home --uid 10001 riskwire \
    && mkdir -p /var/lib/riskwire /data \
    && chown riskwire /var/lib/riskwire /data
USER riskwire
WORKDIR /var/lib/riskwire
ENV RISKWIRE_VAR_DIR=/var/lib/riskwire \
    RISKWIRE_MODEL_DIR=/var/lib/riskwire/models \
    HEALTHCHECK_URL=http://127.0.0.1:6066/healthz
# The worker's /healthz by default (503 when stalled or failing); compose gives the API its
# own check. urlopen raises on any non-2xx answer, which fails the check.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=4)"]
ENTRYPOINT ["riskwire"]
CMD ["--help"]
