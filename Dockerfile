# mockfabric: the emulator (and `mockfabric verify`) as a container. Build: docker build -t mockfabric .
# Run: docker run -p 127.0.0.1:8080:8080 mockfabric   (a control token is generated and printed unless
# MOCKFABRIC_CONTROL_TOKEN is set: the container listens on all its interfaces, so the control API needs one).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml hatch_build.py README.md LICENSE ./
COPY mockfabric ./mockfabric
COPY contracts ./contracts
RUN pip install --no-cache-dir build && python -m build --wheel --outdir /dist

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 mockfabric && mkdir /reports && chown mockfabric /reports
COPY --from=build /dist/*.whl /tmp/
# the verify extra, so that the same image runs `mockfabric verify` (docker-compose.yml's contract-tests)
RUN pip install --no-cache-dir "$(ls /tmp/mockfabric-*.whl)[verify]" && rm /tmp/*.whl
USER mockfabric
WORKDIR /home/mockfabric
ENV MOCKFABRIC_HOST=0.0.0.0 \
    MOCKFABRIC_PORT=8080 \
    PYTHONUNBUFFERED=1
EXPOSE 8080
# follows MOCKFABRIC_PORT, whatever it is set to at `docker run -e`
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=5 \
    CMD python -c "import os,sys,urllib.request; url='http://127.0.0.1:%s/healthcheck' % os.environ.get('MOCKFABRIC_PORT', '8080'); sys.exit(0 if urllib.request.urlopen(url, timeout=2).read() == b'OK' else 1)"
STOPSIGNAL SIGTERM
ENTRYPOINT ["mockfabric"]
CMD ["serve"]
