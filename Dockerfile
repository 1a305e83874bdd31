# One image, several roles (web, worker, beat, migrate): see docker-compose.yml.
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CLINIC_VAR_DIR=/app/var

WORKDIR /app
# A fixed numeric id: Kubernetes' runAsNonRoot can only check a numeric USER, and
# deploy/kubernetes runs the pods as this id (tests/ops/test_kubernetes.py). 999 is
# the id `useradd --system` picked by itself before, so existing volumes stay writable.
RUN groupadd --system --gid 999 clinic && useradd --system --uid 999 --gid clinic --home /app clinic

# pg_dump / pg_restore for `manage.py backup` and `restore` (docs/backup.md).
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

COPY requirements.txt ./
# The lock: every package pinned with its hashes (make lock writes it from requirements.in).
RUN pip install --require-hashes -r requirements.txt

COPY . .
# collectstatic needs a key to import settings; it is not used at run time.
RUN python -m clinic.i18n compile \
    && SECRET_KEY=collectstatic-only DEBUG=0 EMAIL_URL=locmem:// python manage.py collectstatic --noinput \
    && mkdir -p /app/var/media && chown -R clinic:clinic /app/var

USER 999:999
EXPOSE 8000
ENV BIND=0.0.0.0:8000
CMD ["bin/serve"]
