# syntax=docker/dockerfile:1
# modelscaler operator image. The build stage builds the wheel and installs it with its
# dependencies into a virtualenv; the runtime stage copies only that virtualenv into a
# slim Python with no compilers and no pip runs, and runs it as an unprivileged user.
# Checked without an engine by tests/unit/test_dockerfile.py (wheel, clean install, hadolint).

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/modelscaler
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN pip install build==1.2.2 \
 && python -m build --wheel --outdir /dist \
 && /opt/modelscaler/bin/pip install /dist/*.whl \
 && /opt/modelscaler/bin/pip uninstall --yes pip

FROM python:${PYTHON_VERSION}-slim AS runtime
LABEL org.opencontainers.image.title="modelscaler" \
      org.opencontainers.image.description="Autoscales model-serving deployments on request concurrency" \
      org.opencontainers.image.licenses="Apache-2.0"
# The same Python as the build stage, so the virtualenv's interpreter link resolves.
COPY --from=build /opt/modelscaler /opt/modelscaler
# HOME is /tmp: the only writable place when the root filesystem is read-only (the chart
# mounts an emptyDir there).
ENV PATH=/opt/modelscaler/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MODELSCALER_LOG_FORMAT=json
RUN useradd --system --uid 65532 --user-group --no-create-home --home-dir /tmp \
      --shell /usr/sbin/nologin modelscaler
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["modelscaler", "run"]
