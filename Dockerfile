# thinknet's image: the app under gunicorn, as in production. Build from the repository:
#   docker build -t thinknet .
# and run it with PostgreSQL and Redis: `docker compose up` (compose.yaml), settings in thinknet.env
# (deploy/thinknet.env.example). The container migrates the database before it serves.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    THINKNET_INSTANCE_PATH=/data THINKNET_BIND=0.0.0.0:8000

# pg_dump, for `thinknet backup` of a PostgreSQL database.
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --home-dir /srv/thinknet --shell /usr/sbin/nologin thinknet \
    && mkdir -p /srv/thinknet /data && chown thinknet:thinknet /data

WORKDIR /srv/thinknet
COPY pyproject.toml README.md gunicorn.conf.py ./
COPY thinknet ./thinknet
COPY templates ./templates
COPY migrations ./migrations
COPY deploy ./deploy
RUN pip install .

USER thinknet
VOLUME ["/data"]
EXPOSE 8000
# The site answers only to its own host name (THINKNET_BASE_URL), so the check says it is asking for that host.
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import os, urllib.parse, urllib.request; host = urllib.parse.urlsplit(os.environ['THINKNET_BASE_URL']).netloc; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:8000/healthz', headers={'Host': host}), timeout=4)"
CMD ["sh", "-c", "thinknet db upgrade && exec gunicorn --config gunicorn.conf.py"]
