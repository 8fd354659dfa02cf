# mockfabric: the emulator as a container. Build: docker build -t mockfabric .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY mockfabric ./mockfabric
COPY contracts ./contracts
RUN pip install --no-cache-dir build && python -m build --wheel --outdir /dist

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 mockfabric
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl
USER mockfabric
WORKDIR /home/mockfabric
# Listening on all interfaces inside the container is what publishing a port needs; the control API then
# requires MOCKFABRIC_CONTROL_TOKEN (serve refuses to start without one on a non-loopback address).
ENV MOCKFABRIC_HOST=0.0.0.0 \
    MOCKFABRIC_PORT=8080 \
    PYTHONUNBUFFERED=1
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=5 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthcheck', timeout=2).read() == b'OK' else 1)"
STOPSIGNAL SIGTERM
ENTRYPOINT ["mockfabric"]
CMD ["serve"]
