#!/bin/sh
# The image's entry point: one image runs every service and the operator commands.
#   <service>                 a service, e.g. `order` runs apps/order/src/main.ts
#   console                   the web console's files and configuration (apps/console/server)
#   migrate <service>...      apply the services' database migrations, then exit
#   dead-letters <list|replay ID|replay --all>
#   token --role ROLE --sub SUBJECT [--ttl 1h]   a development token (AUTH_DEV_KEY_DIR's key)
#   help                      this text
# Node runs the TypeScript sources directly (type stripping) and replaces this shell (exec), so
# it receives SIGTERM itself and shuts down gracefully.
set -eu
cd /app

usage() {
  services=$(for main in apps/*/src/main.ts; do
    name=${main#apps/}
    name=${name%%/*}
    [ "$name" = ops ] || printf '%s ' "$name"
  done)
  cat <<USAGE
usage: <image> <service> | console | migrate <service>... | dead-letters <list|replay ID|replay --all>
       | token --role ROLE --sub SUBJECT [--ttl 1h] | help
services: ${services}
USAGE
}

command=${1:-help}
[ $# -gt 0 ] && shift

case "$command" in
  help | -h | --help)
    usage
    ;;
  migrate)
    exec node apps/ops/src/migrate.ts "$@"
    ;;
  dead-letters)
    exec node apps/ops/src/dead-letters.ts "$@"
    ;;
  console)
    exec node apps/console/server/main.ts "$@"
    ;;
  token)
    exec node apps/ops/src/token.ts "$@"
    ;;
  *)
    case "$command" in
      ops | */* | .*) ;;
      *)
        if [ -f "apps/$command/src/main.ts" ]; then
          exec node "apps/$command/src/main.ts" "$@"
        fi
        ;;
    esac
    echo "unknown service or command: $command" >&2
    usage >&2
    exit 2
    ;;
esac
