# syntax=docker/dockerfile:1
# modelscaler operator image: a wheel built in one stage, installed into a slim
# runtime with no compilers, run as an unprivileged user.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN pip install --no-cache-dir build==1.2.2 \
 && python -m build --wheel --outdir /dist

FROM python:${PYTHON_VERSION}-slim AS runtime
LABEL org.opencontainers.image.title="modelscaler" \
      org.opencontainers.image.description="Autoscales model-serving deployments on request concurrency" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MODELSCALER_LOG_FORMAT=json
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl \
 && rm -f /tmp/*.whl \
 && useradd --system --uid 65532 --no-create-home --shell /usr/sbin/nologin modelscaler
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["modelscaler", "run"]
