#!/usr/bin/env bash
# Runs the Postman collection (api/) with newman against a real wallpaperd:
# builds the binary, creates a fresh database on the local Postgres server,
# starts the server on a free port with the dev defaults (dev login, offline
# image generator, local storage in a temporary DATA_DIR), waits for
# /readyz, runs the collection, and always stops the server and drops the
# database. An admin is added with `wallpaperd admin add` for the admin
# folder. Exits non-zero when any assertion fails.
#
# Environment:
#   TEST_DATABASE_URL  admin URL of the Postgres server (default: the local
#                      server at 127.0.0.1:5432, user postgres)
#   WALLPAPERD_BIN     use this binary instead of building one
#   NEWMAN_ARGS        extra arguments for `newman run` (e.g. --verbose)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

admin_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
work=$(mktemp -d "${TMPDIR:-/tmp}/wallpaperd-newman.XXXXXX")
db="wpd_newman_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
server_pid=""
db_created=""

cleanup() {
	local status=$?
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		# Give it its graceful shutdown, then insist.
		for _ in $(seq 1 100); do
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	if [[ -n $db_created ]]; then
		psql "$admin_url" -qAt -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null ||
			echo "newman.sh: could not drop database $db" >&2
	fi
	if [[ $status -ne 0 && -f $work/server.log ]]; then
		echo "---- wallpaperd log (last 60 lines) ----" >&2
		tail -n 60 "$work/server.log" >&2
	fi
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bin=${WALLPAPERD_BIN:-}
if [[ -z $bin ]]; then
	echo "newman.sh: building wallpaperd"
	bin="$work/wallpaperd"
	go build -o "$bin" ./cmd/wallpaperd
fi

psql "$admin_url" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
db_created=1
# The same server, the fresh database: swap the path of the admin URL.
db_url=$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.toString())' "$admin_url" "$db")

port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
base="http://127.0.0.1:$port"

echo "newman.sh: starting wallpaperd on $base (database $db)"
mkdir -p "$work/run"
(
	# Its own directory, so no developer's .env is read.
	cd "$work/run"
	# The collection trades over 20 wx.login codes (logins and a banned
	# user's account deletion share one allowance) from one address in
	# about ten seconds: more than the default LOGIN_RATE_PER_MINUTE (20)
	# lets through without waiting. The limit itself is tested in Go.
	exec env APP_ENV=dev HTTP_ADDR="127.0.0.1:$port" DATABASE_URL="$db_url" \
		DATA_DIR="$work/data" SWAGGER_ENABLED=true LOGIN_RATE_PER_MINUTE=120 "$bin" serve
) >"$work/server.log" 2>&1 &
server_pid=$!

ready=""
for _ in $(seq 1 300); do
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "newman.sh: wallpaperd exited before it was ready" >&2
		exit 1
	fi
	if curl -fsS -o /dev/null "$base/readyz" 2>/dev/null; then
		ready=1
		break
	fi
	sleep 0.2
done
if [[ -z $ready ]]; then
	echo "newman.sh: wallpaperd not ready after 60s" >&2
	exit 1
fi

# An admin for the admin folder, made as an operator would; the token is
# printed once, on a line of its own.
admin_token=$(cd "$work/run" && env APP_ENV=dev DATABASE_URL="$db_url" DATA_DIR="$work/data" LOG_LEVEL=warn \
	"$bin" admin add newman | grep -E '^wpa_[A-Za-z0-9_-]{43}$' || true)
if [[ -z $admin_token ]]; then
	echo "newman.sh: wallpaperd admin add printed no token" >&2
	exit 1
fi

# shellcheck disable=SC2086 # NEWMAN_ARGS is a list of words on purpose
npx --no-install --prefix api newman run api/wallpaperd.postman_collection.json \
	--environment api/local.postman_environment.json \
	--env-var "baseUrl=$base" \
	--env-var "adminToken=$admin_token" \
	--env-var "adminName=newman" \
	--working-dir api \
	--timeout-request 30000 \
	--color off \
	${NEWMAN_ARGS:-}
