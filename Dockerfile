# Builds and runs the MCU on Debian 12 with its FFmpeg 5.1 libraries.
FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config \
      libavcodec-dev libavformat-dev libavfilter-dev libavutil-dev \
      libswscale-dev libswresample-dev libavdevice-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -o /out/mcu ./cmd/mcu

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libavcodec59 libavformat59 libavfilter8 libavutil57 libswscale6 libswresample4 libavdevice59 \
      ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/mcu /usr/local/bin/mcu
# An unprivileged user owns only /data (certificate, recordings).
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin mcu \
 && mkdir -p /data && chown mcu:mcu /data
USER mcu
WORKDIR /data
VOLUME /data
# HTTPS (map the host's 443 here), ICE-TCP, and all WebRTC UDP on one port.
EXPOSE 8443/tcp 7881/tcp 7882/udp
# Without a certificate the server makes a self-signed one in /data (-tls
# auto); set MCU_KEYS (see docs/security.md) or it refuses to start.
ENTRYPOINT ["mcu", "serve", "-http", "0.0.0.0:8443", "-udp-port", "7882", "-tcp-port", "7881", "-data-dir", "/data", "-recordings", "/data/recordings"]
