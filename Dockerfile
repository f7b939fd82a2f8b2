# spendgate: one static binary in a distroless image, running as nonroot.
#
#   docker build -t spendgate:dev .
#   docker run --rm spendgate:dev config check serve
#
# The portal's built assets are committed under portal/dist and embedded by
# `go build`, so no node stage is needed. The Envoy filter has its own image
# (filter/Dockerfile).

# --- build: a static Go binary (CGO_ENABLED=0; no libc needed at run time).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/spendgate ./cmd/spendgate
# The gateway's event spool directory, owned by nonroot: a volume mounted
# here starts with this owner (the root filesystem can stay read-only).
RUN mkdir -p /out/var/lib/spendgate/spool

# --- run: distroless static, user nonroot (65532), nothing but the binary
# and CA certificates (for the providers' TLS).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/spendgate /usr/local/bin/spendgate
COPY --from=build --chown=65532:65532 /out/var/lib/spendgate /var/lib/spendgate
USER nonroot:nonroot
# api 8080, gateway 8081, ingest 8082 (each command's --listen default, on
# loopback: set SPENDGATE_LISTEN=:8080 and friends in a container).
EXPOSE 8080 8081 8082
ENTRYPOINT ["/usr/local/bin/spendgate"]
CMD ["--help"]
