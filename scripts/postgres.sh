#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 for the tests marked `postgres`.
# - already up: nothing to do;
# - installed but stopped: start the cluster;
# - absent (and we are root on Debian): install it, start it, and trust local TCP
#   connections as the tests expect (a throwaway test server, never a production setting).
set -euo pipefail

up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

command -v pg_isready >/dev/null 2>&1 && up && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "PostgreSQL is not answering on 127.0.0.1:5432. Start it, e.g.:" >&2
  echo "  sudo apt-get install -y postgresql && sudo pg_ctlcluster 15 main start" >&2
  echo "or point CIVICLOUD_TEST_POSTGRES_URL at a server you have." >&2
  exit 1
fi

if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "installing PostgreSQL"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q postgresql
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/' "$hba"
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start
for _ in $(seq 1 30); do up && exit 0; sleep 1; done
echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 1
