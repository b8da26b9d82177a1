# pmbot: slim image, non-root, health-checked.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/home/pmbot/.cache/matplotlib

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY storage ./storage
RUN pip install . \
 && useradd --create-home --uid 10001 pmbot \
 && mkdir -p /data "$MPLCONFIGDIR" \
 && chown -R pmbot:pmbot /data /home/pmbot

USER pmbot
# Build matplotlib's font cache once, in the image, instead of at every start.
RUN python -c "import matplotlib.font_manager"
WORKDIR /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import sys,urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4).status == 200 else 1)"
# SIGTERM drains in-flight work; give it time before SIGKILL (docker stop -t 30).
STOPSIGNAL SIGTERM
CMD ["pmbot", "serve", "--host", "0.0.0.0", "--port", "3000"]
