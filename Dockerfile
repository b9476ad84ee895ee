# syntax=docker/dockerfile:1
#
# mind-relay's container image: a static binary on distroless "nonroot".
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg COMMIT=$(git rev-parse --short HEAD) -t mind-relay .
#   docker run -p 9095:9095 -v $PWD/relay.yml:/etc/mind-relay/config.yaml:ro \
#              -v mind-relay-data:/var/lib/mind-relay mind-relay
#
# Other commands: docker run --rm --entrypoint /usr/local/bin/relay mind-relay version
# (or check-config --config /etc/mind-relay/config.yaml). `make image` builds it.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so a code change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# Set by BuildKit from --platform; plain linux/amd64 otherwise.
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
# Static (the SQLite driver is pure Go), reproducible paths, version stamped
# into cmd/relay's main.version and main.commit.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-amd64} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/relay ./cmd/relay
# The store's directory, owned by the image's user, so that a fresh volume
# mounted on it is writable.
RUN mkdir -p /out/data

# distroless/static: CA certificates, tzdata and /etc/passwd with "nonroot"
# (uid 65532), nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="mind-relay" \
      org.opencontainers.image.description="Routes Alertmanager and Grafana alerts to Mind as interactive cards" \
      org.opencontainers.image.source="https://github.com/mindoffice/mind-relay" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /out/relay /usr/local/bin/relay
COPY --from=build --chown=65532:65532 /out/data /var/lib/mind-relay
USER 65532:65532
WORKDIR /var/lib/mind-relay
# store.path should point here, e.g. /var/lib/mind-relay/relay.db.
VOLUME ["/var/lib/mind-relay"]
EXPOSE 9095
ENTRYPOINT ["/usr/local/bin/relay", "serve", "--config", "/etc/mind-relay/config.yaml"]
