# aitrader: the four MCP tool servers and the API in one container, started by entrypoint.sh.
# Build: docker build -t aitrader .    Run: docker compose up -d    (see docs/deployment.md)

# -- build: a virtualenv with the dependencies, then the package ------------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The dependencies alone first: this layer is reused until setup.cfg changes.
COPY setup.cfg pyproject.toml ./
RUN python -c "import configparser; c = configparser.ConfigParser(); c.read('setup.cfg'); \
print(c['options']['install_requires'])" > requirements.txt \
 && pip install --requirement requirements.txt
COPY README.md ./
COPY aitrader ./aitrader
RUN pip install --no-deps . && rm -rf build ./*.egg-info

# -- runtime: the virtualenv, the tool servers, the configs; no compilers, no caches ----------
FROM python:3.11-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="aitrader" \
      org.opencontainers.image.description="The AI-Trader benchmark as a service: LLMs and rule-based baselines trade simulated portfolios through MCP tools" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.documentation="README.md and docs/deployment.md in the source"
# curl: the health checks (HEALTHCHECK and entrypoint.sh). Debian's slim images move package
# versions with security updates, so they are not pinned here.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && useradd --uid 1000 --user-group --create-home --shell /usr/sbin/nologin aitrader
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FASTMCP_CHECK_FOR_UPDATES=off \
    API_HOST=0.0.0.0 \
    API_PORT=8080 \
    AITRADER_DATA_DIR=/app/data \
    AITRADER_CONFIGS_DIR=/app/configs
WORKDIR /app
COPY mcp ./mcp
COPY configs ./configs
COPY entrypoint.sh ./
RUN mkdir -p /app/data && chown aitrader:aitrader /app/data
USER 1000:1000
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["sh", "-c", "curl -fsS -o /dev/null http://127.0.0.1:${API_PORT:-8080}/health || exit 1"]
CMD ["./entrypoint.sh"]
