#!/usr/bin/env bash
# Starts the local ClickHouse server (Debian's clickhouse-server) unless one
# already answers on 127.0.0.1:8123. Installs it first when missing and we are root.
set -euo pipefail
if curl -fsS http://127.0.0.1:8123/ping >/dev/null 2>&1; then
  echo "clickhouse: already running"; exit 0
fi
if ! command -v clickhouse-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
  else
    echo "clickhouse: clickhouse-server is not installed; run: sudo apt-get install -y clickhouse-server clickhouse-client" >&2; exit 1
  fi
fi
mkdir -p /var/lib/clickhouse /var/log/clickhouse-server
chown -R clickhouse:clickhouse /var/lib/clickhouse /var/log/clickhouse-server 2>/dev/null || true
su -s /bin/sh clickhouse -c 'clickhouse-server --config-file=/etc/clickhouse-server/config.xml --daemon' || true
for _ in $(seq 1 60); do
  if curl -fsS http://127.0.0.1:8123/ping >/dev/null 2>&1; then echo "clickhouse: started"; exit 0; fi
  sleep 0.5
done
echo "clickhouse: did not start; see /var/log/clickhouse-server/clickhouse-server.err.log" >&2
exit 1
