# The tool's container image: the Helm hook Job and CI runners run `reconciler` from it.
# Build: docker build -t runtime-reconciler:0.1.0 .
# The base is pinned by version (and can be pinned by digest, @sha256:..., where builds
# must be reproducible); both stages use the same one, so the virtualenv moves over as is.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# reconciler/schemas links to ../schemas: copy both so the wheel carries the schemas.
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY reconciler ./reconciler
RUN python -m venv /opt/reconciler \
    && /opt/reconciler/bin/pip install ".[kubernetes,s3]" \
    && /opt/reconciler/bin/reconciler --version

FROM ${PYTHON_IMAGE}
# A fixed numeric user, so Kubernetes can verify runAsNonRoot without a user database.
RUN groupadd --system --gid 10001 reconciler \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin reconciler \
    && install -d -o 10001 -g 10001 /var/lib/reconciler
COPY --from=build /opt/reconciler /opt/reconciler
ENV PATH=/opt/reconciler/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
# The default local state (state/reconciler.state.json) lands here; the chart mounts its
# PersistentVolumeClaim on this directory.
WORKDIR /var/lib/reconciler
USER 10001:10001
ENTRYPOINT ["reconciler"]
CMD ["--help"]
