#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (Debian's postgresql package), in a
# temporary directory, on a free loopback port, trusting local connections.
#   scripts/pg-cluster.sh start DIR       prints the cluster's URL (database "postgres")
#   scripts/pg-cluster.sh start-tls DIR   the same with TLS on: a throwaway CA in DIR/ca.pem
#                                         signs a certificate for the name "localhost" only
#   scripts/pg-cluster.sh start-mtls DIR  TLS, and TCP clients must also show a certificate
#                                         from that CA naming their user: DIR/client.pem
#                                         and DIR/client.key (mode 0600) for user authdesk
#   scripts/pg-cluster.sh stop DIR
# As root the server runs as the `postgres` user (initdb refuses root).
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?a directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed: run scripts/setup-debian.sh test" >&2; exit 1; }
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $cmd in
start|start-tls|start-mtls)
  mkdir -p "$dir"
  tls=""
  if [ "$cmd" != start ]; then
    (cd "$dir"
     openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Authdesk test CA" \
       -keyout ca.key -out ca.pem 2>/dev/null
     openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
     printf 'subjectAltName=DNS:localhost\n' > san.ext
     openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
       -extfile san.ext -out server.crt 2>/dev/null
     chmod 600 server.key)
    [ "$(id -u)" = 0 ] && chown postgres: "$dir/server.key" "$dir/server.crt"
    tls="-c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key"
  fi
  if [ "$cmd" = start-mtls ]; then
    (cd "$dir"
     openssl req -newkey rsa:2048 -nodes -subj "/CN=authdesk" -keyout client.key -out client.csr 2>/dev/null
     openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out client.pem 2>/dev/null
     chmod 600 client.key)
    [ "$(id -u)" = 0 ] && chown postgres: "$dir/ca.pem"
    tls="$tls -c ssl_ca_file=$dir/ca.pem -c hba_file=$dir/pg_hba.conf"
    # The Unix socket stays open (for the script itself); TCP needs TLS and a client
    # certificate whose name is the user's.
    printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust clientcert=verify-full\n' > "$dir/pg_hba.conf"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir/pg_hba.conf"
  fi
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_owner "$bin/initdb" -D "$dir/data" -U authdesk --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  # fsync off: a throwaway cluster; max_connections for several replicas and parallel tests;
  # pg_stat_statements for the team bench (statements and lock waits per request).
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
    "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300 -c shared_preload_libraries=pg_stat_statements $tls" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  echo "postgres://authdesk@127.0.0.1:$port/postgres"
  ;;
stop)
  [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  ;;
*) echo "usage: $0 start|start-tls|start-mtls|stop DIR" >&2; exit 2 ;;
esac
