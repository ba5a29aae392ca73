# utvm CI image. Three stages:
#   qemu       what one emulated device needs (QEMU only); the harness runs one
#              container of it per device session
#   toolchain  qemu plus the C compilers (host gcc, arm-none-eabi-gcc): where a
#              `utvm tune-worker` builds and runs what it is sent (no network)
#   ci         the whole CI job: toolchains, QEMU, Python and this project
# Where no registry is reachable, build a base first (ci/docker-base.sh) and pass
#   --build-arg BASE_IMAGE=utvm-base:bookworm
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS qemu
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends qemu-system-arm \
 && rm -rf /var/lib/apt/lists/*
LABEL org.opencontainers.image.title="utvm-qemu" \
      org.opencontainers.image.description="QEMU for utvm's emulated Cortex-M boards"

FROM qemu AS toolchain
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      gcc make libc6-dev gcc-arm-none-eabi libnewlib-arm-none-eabi binutils \
 && rm -rf /var/lib/apt/lists/*
LABEL org.opencontainers.image.title="utvm-toolchain"

FROM toolchain AS ci
ARG DEBIAN_FRONTEND=noninteractive
ARG UTVM_EXTRAS=dev,tvm
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      gcc make libc6-dev gcc-arm-none-eabi libnewlib-arm-none-eabi binutils file \
      clang-14 libclang-rt-14-dev python3 python3-venv ca-certificates git docker.io \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src/utvm
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY harness ./harness
COPY utvm_ci ./utvm_ci
COPY acceptance_tests ./acceptance_tests
# pip trusts the system's certificate store (which includes any CA the base added)
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt
RUN python3 -m venv /opt/utvm \
 && /opt/utvm/bin/pip install -q --upgrade pip \
 && /opt/utvm/bin/pip install -q -e ".[${UTVM_EXTRAS}]"
COPY . .
ENV PATH=/opt/utvm/bin:$PATH
LABEL org.opencontainers.image.title="utvm-ci"
CMD ["utvm", "targets"]
