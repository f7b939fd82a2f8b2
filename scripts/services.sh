#!/usr/bin/env bash
# Makes sure the services spendgate needs answer on this machine, starting the
# ones that stopped: Postgres 127.0.0.1:5432, NATS+JetStream 127.0.0.1:4222,
# ClickHouse 127.0.0.1:9000/8123.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 5432; then
  echo "postgres: starting"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
fi
if ! port_open 4222; then
  echo "nats: starting"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  for _ in $(seq 1 50); do port_open 4222 && break; sleep 0.2; done
fi
"$here/clickhouse-start.sh"
