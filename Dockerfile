# The portal's image: web (gunicorn), worker, beat and the demo simulator all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=portal.settings.production

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN mkdir -p portal connectivity \
    && touch portal/__init__.py connectivity/__init__.py \
    && pip install . \
    && pip uninstall -y connectivity-portal \
    && rm -rf portal connectivity build *.egg-info

COPY . .
# Editable: settings find templates/ and static/ beside the code (BASE_DIR), not in site-packages.
RUN pip install --no-deps -e . \
    && useradd --system --uid 10001 --home-dir /app portal \
    && mkdir -p /app/.run /app/staticfiles /simulator \
    && DJANGO_SECRET_KEY=collectstatic-only DJANGO_ALLOWED_HOSTS=localhost AZURE_SIMULATOR=true \
       FIELD_ENCRYPTION_KEYS=q0xqH4yQmVnA2rJt1k9m4rL3p7sXzY6wBvC8dE5fG0I= \
       python manage.py collectstatic --noinput \
    && chown -R portal:portal /app/.run /app/staticfiles /simulator

USER portal
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
