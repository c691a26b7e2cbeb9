# The production image: runtime dependencies only (requirements.lock; the tests' and linters' packages are in
# requirements-dev.lock, never installed here), run as a non-root user. Each docker-compose service runs one
# `manage.py serve` process.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
RUN useradd --create-home --uid 10001 sufrah && mkdir -p /app/var/metrics && chown -R sufrah:sufrah /app/var
COPY --chown=sufrah:sufrah . .
USER sufrah
EXPOSE 8000
CMD ["python", "manage.py", "serve", "web"]
