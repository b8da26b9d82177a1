# pmbot: slim image, non-root, health-checked.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/home/pmbot/.cache/matplotlib

WORKDIR /app
# Dependencies first, from pyproject.toml alone: this layer is reused until they change, so a code change
# rebuilds in seconds instead of reinstalling everything (CI builds the image on every run).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
COPY README.md ./
COPY bot ./bot
COPY storage ./storage
RUN pip install --no-deps . \
 && useradd --create-home --uid 10001 pmbot \
 && mkdir -p /data "$MPLCONFIGDIR" \
 && chown -R pmbot:pmbot /data /home/pmbot

USER pmbot
# Build matplotlib's font cache once, in the image, instead of at every start.
RUN python -c "import matplotlib.font_manager"
WORKDIR /data
# Where `serve` listens. Override them when the container shares the host's network (CI's smoke test,
# `.ci/container-smoke`, runs it with --network host on a free loopback port).
ENV PMBOT_HOST=0.0.0.0 \
    PMBOT_PORT=3000
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os,sys,urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['PMBOT_PORT'], timeout=4).status == 200 else 1)"
# SIGTERM drains in-flight work (PMBOT_DRAIN_SECONDS, 25 s by default); give it time before SIGKILL
# (docker stop -t 30). `exec` makes pmbot PID 1, so the signal reaches it and not a shell. `serve`
# upgrades the schema at start.
STOPSIGNAL SIGTERM
CMD ["sh", "-c", "exec pmbot serve --host \"$PMBOT_HOST\" --port \"$PMBOT_PORT\""]
