# imgpipe's three Lambda container images, built from one Dockerfile. `sam build` (`make deploy`)
# builds each stage its function's Metadata names in infra/template.yaml; by hand:
#
#   docker build --platform linux/amd64 --target upload-api    -t imgpipe-upload-api .
#   docker build --platform linux/amd64 --target stream-worker -t imgpipe-stream-worker .
#   docker build --platform linux/amd64 --target loader        -t imgpipe-loader .
#
# Dependencies come from the hashed locks in requirements/ (`make lock`), compiled for
# x86_64 and CPython 3.12, hence --platform linux/amd64 on any build machine.
#
# The base is pinned by tag. AWS republishes the tag with security fixes; for reproducible
# builds pin the digest too (see docs/deploy.md):
#   --build-arg LAMBDA_BASE=public.ecr.aws/lambda/python:3.12@sha256:<digest>
ARG LAMBDA_BASE=public.ecr.aws/lambda/python:3.12

# ---- builders: third-party packages, one set per image -------------------------------------
FROM ${LAMBDA_BASE} AS deps-upload-api
COPY requirements/upload-api.txt /tmp/requirements.txt
# Wheels only and every file checked against its hash: nothing is compiled, nothing unpinned.
RUN python3 -m pip install --no-cache-dir --disable-pip-version-check --require-hashes \
        --only-binary=:all: --target /opt/deps -r /tmp/requirements.txt

FROM ${LAMBDA_BASE} AS deps-stream-worker
COPY requirements/stream-worker.txt /tmp/requirements.txt
RUN python3 -m pip install --no-cache-dir --disable-pip-version-check --require-hashes \
        --only-binary=:all: --target /opt/deps -r /tmp/requirements.txt

FROM ${LAMBDA_BASE} AS deps-loader
COPY requirements/loader.txt /tmp/requirements.txt
RUN python3 -m pip install --no-cache-dir --disable-pip-version-check --require-hashes \
        --only-binary=:all: --target /opt/deps -r /tmp/requirements.txt

# ---- builder: imgpipe's own code, byte-compiled ---------------------------------------------
FROM ${LAMBDA_BASE} AS source
WORKDIR /src
COPY core/ core/
COPY services/ services/
# /var/task is read-only at run time, so Python cannot cache bytecode there itself: compile
# it here. unchecked-hash .pyc files stay valid whatever mtimes COPY leaves behind.
RUN python3 -m compileall -q -j 0 --invalidation-mode unchecked-hash core services

# Each image carries only its own entry point.
FROM source AS source-upload-api
RUN rm -rf services/stream_worker services/loader

FROM source AS source-stream-worker
RUN rm -rf services/upload_api services/loader

FROM source AS source-loader
RUN rm -rf services/upload_api services/stream_worker
# Only the stream's Kafka client settings come back: the producer of a results topic uses them.
COPY --from=source /src/services/stream_worker/__init__.py \
    /src/services/stream_worker/kafka_config.py services/stream_worker/
COPY --from=source /src/services/stream_worker/__pycache__/__init__.* \
    /src/services/stream_worker/__pycache__/kafka_config.* services/stream_worker/__pycache__/

# ---- final images: the Lambda base, the locked packages, the code; no pip cache, no compiler --
# glibc's allocator: two arenas, and blocks of 8 MiB and more straight from mmap, so that the
# memory of a burst of large decodes goes back to the system (README: the decode budget).
FROM ${LAMBDA_BASE} AS upload-api
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=8388608
COPY --from=deps-upload-api /opt/deps ${LAMBDA_TASK_ROOT}
COPY --from=source-upload-api /src ${LAMBDA_TASK_ROOT}
CMD ["services.upload_api.lambda_handler.handler"]

FROM ${LAMBDA_BASE} AS stream-worker
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=8388608
COPY --from=deps-stream-worker /opt/deps ${LAMBDA_TASK_ROOT}
COPY --from=source-stream-worker /src ${LAMBDA_TASK_ROOT}
CMD ["services.stream_worker.lambda_handler.handler"]

FROM ${LAMBDA_BASE} AS loader
COPY --from=deps-loader /opt/deps ${LAMBDA_TASK_ROOT}
COPY --from=source-loader /src ${LAMBDA_TASK_ROOT}
CMD ["services.loader.lambda_handler.handler"]
