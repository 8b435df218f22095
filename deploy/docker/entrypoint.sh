#!/bin/sh
# No arguments: run the service named by DISAN_SERVICE.
# `bootstrap`: schemas, migrations, queues (`disan migrate`) and the buckets, then exit.
# Anything else: a `disan` command (migrate, dlq list, user, import, ...).
set -eu
here=$(dirname "$0")
if [ "$#" -eq 0 ]; then
    if [ -z "${DISAN_SERVICE:-}" ]; then
        echo "set DISAN_SERVICE (one of the services in shared/runner.py) or give a disan command" >&2
        exit 2
    fi
    exec python -m shared.cli.main service run "$DISAN_SERVICE"
fi
if [ "$1" = "bootstrap" ]; then
    python -m shared.cli.main migrate
    exec python "$here/ensure_buckets.py"
fi
exec python -m shared.cli.main "$@"
