#!/bin/sh
# docker-compose.yaml, service `preflight`: runs before the databases and Airflow and refuses to let
# them start while a secret is still a placeholder from .env.example (change-me-...), empty, or
# malformed. Checks every variable it is given whose name contains PASSWORD, SECRET or FERNET.
# (Empty values already stop `docker compose config`: those variables are written ${VAR:?...}.)
# Never prints a value.
status=0
names=$(env | cut -d= -f1 | grep -E 'PASSWORD|SECRET|FERNET' | sort)
if [ -z "$names" ]; then
    echo "preflight: no secrets to check were passed in (see docker-compose.yaml)" >&2
    exit 1
fi
for name in $names; do
    case "$name" in *[!A-Za-z0-9_]*) continue ;; esac
    eval "value=\${$name:-}"
    case "$value" in
        "")
            echo "preflight: $name is empty: set it in .env" >&2
            status=1 ;;
        [Cc][Hh][Aa][Nn][Gg][Ee]-[Mm][Ee]*)
            echo "preflight: $name is still the placeholder from .env.example: replace it in .env" >&2
            status=1 ;;
    esac
done
# Passwords end up inside connection URLs.
for name in AIRFLOW_DB_PASSWORD DSR_WAREHOUSE_PASSWORD DSR_WAREHOUSE_ADMIN_PASSWORD; do
    eval "value=\${$name:-}"
    case "$value" in
        *[!A-Za-z0-9_-]*)
            echo "preflight: $name may only hold letters, digits, '-' and '_' (it goes into a URL)" >&2
            status=1 ;;
    esac
done
# A Fernet key is 32 bytes in URL-safe base64: 43 characters and '='.
if [ -n "${AIRFLOW_FERNET_KEY:-}" ] && ! printf '%s' "$AIRFLOW_FERNET_KEY" | grep -Eq '^[A-Za-z0-9_-]{43}=$'; then
    echo "preflight: AIRFLOW_FERNET_KEY is not a Fernet key; make one with" >&2
    echo '  python3 -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"' >&2
    status=1
fi
[ "$status" -eq 0 ] && echo "preflight: secrets set"
exit "$status"
