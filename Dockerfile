# The production image: runtime dependencies only (pyproject's [project].dependencies, pinned by
# requirements.lock), run as a non-root user. Each docker-compose service runs one `manage.py serve` process.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/runtime.txt \
    && pip install --no-cache-dir -r /tmp/runtime.txt -c requirements.lock \
    && rm /tmp/runtime.txt
RUN useradd --create-home --uid 10001 sufrah && mkdir -p /app/var/metrics && chown -R sufrah:sufrah /app/var
COPY --chown=sufrah:sufrah . .
USER sufrah
EXPOSE 8000
CMD ["python", "manage.py", "serve", "web"]
