# hatespeech-detect: the production server (nginx in front of gunicorn + firefly) with the committed model.
#   docker build . -t hatespeechdetect && docker run -p 3000:5000 -d hatespeechdetect
# Python 3.11: firefly-python 0.1.15 imports the `cgi` module, removed from the standard library
# in 3.13 (it only works there through WebOb's legacy-cgi shim); 3.11 is what the model was built
# and tested with.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=5000 \
    ALERT_DB_PATH=/var/lib/hatespeech/alerts.sqlite3 \
    REVIEW_DB_PATH=/var/lib/hatespeech/review.sqlite3 \
    FEEDBACK_DB_PATH=/var/lib/hatespeech/feedback.sqlite3

WORKDIR /app
# nginx buffers whole requests in front of gunicorn, so idle and trickling clients cannot hold
# its threads (hatespeech/service/launch.py). 1.22 is Debian 12's; security updates still apply.
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx=1.22.* \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin app \
    && mkdir -p /var/lib/hatespeech \
    && chown 10001 /var/lib/hatespeech
# The alert outbox and the review queue (SQLite) live there: mount a volume on it to keep pending alerts across
# containers, or set REDIS_URL (Heroku's dynos have no lasting disk: use Redis there).
VOLUME ["/var/lib/hatespeech"]

# The C kernel (hatespeech/core/_kernel.c: the per-text arithmetic, the same numbers as NumPy's path), built with
# Debian's gcc, which is purged in the same layer: the image keeps the ~40 KB extension, not the compiler. Its own
# layer, before the rest of the code: rebuilt only when the kernel changes.
COPY hatespeech/core/_kernel.c hatespeech/core/build.py hatespeech/core/
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc=4:12.2.* libc6-dev=2.36-* \
    && python hatespeech/core/build.py \
    && apt-get purge -y --auto-remove gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
COPY app.py model.py openapi.yaml ./
COPY hatespeech/ hatespeech/
COPY models/ models/
# PYTHONDONTWRITEBYTECODE (above) keeps the running server from writing bytecode: it is compiled here, once, so that
# each start reads it instead of compiling ~50 modules from source (~0.15–0.25 s of every cold start).
RUN python -m compileall -q app.py model.py hatespeech

USER 10001
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '5000'), timeout=4)"]
# Two processes under this one: nginx on HOST:$PORT (Heroku sets PORT), gunicorn behind it on a
# Unix socket; SIGTERM stops nginx gracefully, then gunicorn (see hatespeech/service/launch.py).
CMD ["python", "-m", "hatespeech.service.launch"]
