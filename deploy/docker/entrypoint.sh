#!/bin/sh
# No arguments: run the service named by DISAN_SERVICE.
# `bootstrap`: database extensions, schemas, migrations, queues (`disan migrate`), buckets; exit.
# Anything else: a `disan` command (migrate, dlq list, user, import, ...).
set -eu
here=$(dirname "$0")
if [ "$#" -eq 0 ]; then
    if [ -z "${DISAN_SERVICE:-}" ]; then
        echo "set DISAN_SERVICE (one of the services in disan/registry.py) or give a disan command" >&2
        exit 2
    fi
    exec python -m disan.cli.main service run "$DISAN_SERVICE"
fi
if [ "$1" = "bootstrap" ]; then
    exec python "$here/bootstrap.py"
fi
exec python -m disan.cli.main "$@"
