# The bot as one small image: dependencies are built in a throwaway stage so the final image carries
# neither pip caches nor build tools, and the process runs as an unprivileged user.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The dependencies in a layer of their own, keyed on pyproject.toml alone: a change to the code rebuilds
# in seconds instead of downloading and unpacking them all again.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
# pyproject.toml names README.md as the package's readme: the build fails without it.
COPY README.md ./
COPY bot ./bot
COPY emulators ./emulators
COPY handlers ./handlers
COPY storage ./storage
# A regular (non-editable) install without the dev extra: the image needs no test tools.
RUN pip install --no-deps .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    DATABASE_PATH=/data/bot.sqlite3
# A fixed uid keeps the volume's ownership stable across rebuilds.
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --home-dir /app --shell /usr/sbin/nologin bot \
    && mkdir -p /app /data \
    && chown bot:bot /app /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER bot
# Declared after the chown so a new named volume starts out owned by the bot user.
VOLUME ["/data"]
EXPOSE 8080
# slim has no curl: python's urllib raises (exit 1) on anything but a 2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
CMD ["python", "-m", "bot", "run"]
