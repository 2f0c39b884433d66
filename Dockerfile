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
WORKDIR /data
EXPOSE 8080 50000-50100/udp
ENTRYPOINT ["mcu", "serve", "-http", "0.0.0.0:8080", "-udp-ports", "50000-50100", "-recordings", "/data/recordings"]
