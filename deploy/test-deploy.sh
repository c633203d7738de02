#!/usr/bin/env bash
# The deployment, run for real: the image built from the Dockerfile, docker-compose.yml brought up with
# podman-compose (plus deploy/compose.test.yml, which adds the emulators), and everything checked
# through Caddy over HTTPS. Then the same with several replicas: docker-compose.replicas.yml on top
# (PostgreSQL, a second replica, Caddy balancing them; plus deploy/compose.replicas.test.yml), a song
# through the balancer, one replica killed, and another song through the survivor. Installs what it
# needs on a fresh Debian 12 machine; skips, saying why, where no container engine can run.
# `make test-deploy`; `.ci/run` calls it after `make test`.
#
# Environment: REQUIRE_DEPLOY_TEST=1 turns a skip into a failure; DEPLOY_TEST_ONLY=single or replicas
# runs one of the two stacks; DEPLOY_TEST_CACHE (default ~/.cache/suno-telegram-bot-deploy) keeps
# podman-compose's venv between runs, and podman's own storage keeps the base images and the build's
# layers.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROJECT=suno-bot-deploy-test
REPLICAS_PROJECT=suno-bot-replicas-test
BASE_IMAGE=docker.io/library/python:3.11-slim
CADDY_IMAGE=docker.io/library/caddy:2
POSTGRES_IMAGE=docker.io/library/postgres:16
BOT_IMAGE=localhost/suno-telegram-bot:deploy-test  # deploy/compose.test.yml's, not an operator's :latest
PODMAN_COMPOSE_VERSION=1.6.0
PACKAGES=(podman runc golang-github-containernetworking-plugin-dnsname debootstrap caddy openssl curl python3-venv)
CACHE=${DEPLOY_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/suno-telegram-bot-deploy}
PERSON=4242
ONLY=${DEPLOY_TEST_ONLY:-}
[[ -z $ONLY || $ONLY == single || $ONLY == replicas ]] || { echo "DEPLOY_TEST_ONLY: single or replicas" >&2; exit 2; }
STARTED=$SECONDS

step() { printf '[deploy-test %3ds] %s\n' $((SECONDS - STARTED)) "$*"; }
skip() {
    echo "SKIP deploy test: $*"
    [[ ${REQUIRE_DEPLOY_TEST:-} == 1 ]] && exit 1
    exit 0
}
fail() {
    echo "FAIL deploy test: $*" >&2
    exit 1
}
# Polls `$@` until it succeeds: every wait here is bounded, none is a fixed sleep.
wait_for() {
    local what=$1 seconds=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        ((SECONDS < deadline)) || fail "$what: not within ${seconds}s"
        sleep 0.5
    done
}

# --- Can a container engine run here? -----------------------------------------------------------

[[ $(uname -s) == Linux ]] || skip "needs Linux (found $(uname -s))"
# Rootless podman has no network on this kind of machine (/dev/net/tun is root's), and installing
# packages needs root anyway.
[[ $(id -u) == 0 ]] || skip "needs root: rootless podman cannot network here"

WORK=$(mktemp -d /tmp/deploy-test.XXXXXX)
# The stack being tested: the single replica first, then the replicas (use_stack switches).
STACK_PROJECT=$PROJECT
STACK_FILES=()
use_stack() {
    STACK_PROJECT=$1
    shift
    STACK_FILES=()
    local file
    for file in "$@"; do STACK_FILES+=(-f "$file"); done
}
compose() {
    "$CACHE/venv/bin/podman-compose" --in-pod=false -p "$STACK_PROJECT" --env-file "$ROOT/deploy/test.env" \
        "${STACK_FILES[@]}" "$@"
}
stack_up=0
cleanup() {
    local status=$?
    if ((stack_up)); then
        if ((status != 0)); then
            echo "--- the stack's logs ---" >&2
            compose logs >&2 2>&1 || true
        fi
        compose down -v -t 5 >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT

missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || skip "no apt-get to install ${missing[*]}"
    step "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >"$WORK/apt.log" 2>&1 ||
        { tail -n 5 "$WORK/apt.log"; skip "apt-get update failed: no package mirror reachable"; }
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$WORK/apt.log" 2>&1 ||
        { tail -n 5 "$WORK/apt.log"; skip "apt-get could not install ${missing[*]}"; }
fi

mkdir -p "$CACHE"
# podman's default limits exceed this machine's hard limits (root lacks CAP_SYS_RESOURCE), and crun
# refuses its hybrid cgroups: runc with limits it may set.
cat >"$CACHE/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]

[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF=$CACHE/containers.conf
# OCI images drop HEALTHCHECK: the bot's health check must survive the build.
export BUILDAH_FORMAT=docker

installed_compose() {
    "$CACHE/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("podman-compose"))' 2>/dev/null
}
if [[ $(installed_compose) != "$PODMAN_COMPOSE_VERSION" ]]; then
    step "installing podman-compose $PODMAN_COMPOSE_VERSION"
    rm -rf "$CACHE/venv"
    python3 -m venv "$CACHE/venv"
    "$CACHE/venv/bin/pip" install -q "podman-compose==$PODMAN_COMPOSE_VERSION" >"$WORK/pip.log" 2>&1 ||
        { tail -n 5 "$WORK/pip.log"; skip "podman-compose could not be installed from PyPI"; }
fi


# --- Base images: made here, since no image registry can be reached -----------------------------

debian_mirror() {
    # The mirror apt uses for bookworm itself (not -security or -updates), deb822 or one-line style.
    local mirror
    mirror=$(awk '
        /^URIs:/ { uris = $2 }
        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") hit = 1 }
        /^[[:space:]]*$/ { if (hit && uris) { print uris; exit } uris = ""; hit = 0 }
        END { if (hit && uris) print uris }' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
    if [[ -z $mirror ]]; then
        mirror=$(awk '$1 == "deb" { n = 2; while ($n ~ /^\[/) { while ($n !~ /\]$/) n++; n++ }
            if ($(n + 1) == "bookworm") { print $n; exit } }' /etc/apt/sources.list 2>/dev/null | head -n1)
    fi
    echo "${mirror:-http://deb.debian.org/debian}"
}

if ! podman image exists "$BASE_IMAGE"; then
    mirror=$(debian_mirror)
    step "making $BASE_IMAGE from Debian bookworm ($mirror)"
    rootfs=$WORK/rootfs
    debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
        bookworm "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
        { tail -n 20 "$WORK/debootstrap.log" >&2; fail "debootstrap failed"; }
    # The registries are reached through a proxy with its own CA: pip in the build must trust it too.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
        chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
    fi
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["python3"]' --quiet - "$BASE_IMAGE" >/dev/null
    rm -rf "$rootfs"
fi

step "checking that podman can run a container"
probe=$(podman run --rm --network none "$BASE_IMAGE" python3 -c 'print("ok")' 2>&1) ||
    skip "podman cannot run a container here: $(tail -n 3 <<<"$probe")"

if ! podman image exists "$CADDY_IMAGE"; then
    step "making $CADDY_IMAGE from Debian's caddy"
    mkdir -p "$WORK/caddy-image"
    cp "$(command -v caddy)" "$WORK/caddy-image/caddy"
    podman build -q -t "$CADDY_IMAGE" -f "$ROOT/deploy/caddy.Containerfile" "$WORK/caddy-image" >/dev/null
fi

# Rebuilt when its entrypoint changes: the image carries the script's checksum as a label.
postgres_entrypoint_sum=$(sha256sum "$ROOT/deploy/postgres-entrypoint.sh" | cut -c1-16)
if [[ $ONLY != single ]] && [[ $(podman image inspect --format '{{index .Labels "entrypoint-sum"}}' \
    "$POSTGRES_IMAGE" 2>/dev/null) != "$postgres_entrypoint_sum" ]]; then
    step "making $POSTGRES_IMAGE from Debian's postgresql"
    mkdir -p "$WORK/postgres-image"
    cp "$ROOT/deploy/postgres-entrypoint.sh" "$WORK/postgres-image/"
    podman build -q -t "$POSTGRES_IMAGE" --label "entrypoint-sum=$postgres_entrypoint_sum" \
        -f "$ROOT/deploy/postgres.Containerfile" "$WORK/postgres-image" >"$WORK/postgres-build.log" 2>&1 ||
        { tail -n 20 "$WORK/postgres-build.log" >&2; fail "the postgres stand-in did not build"; }
fi

# --- What both stacks share ----------------------------------------------------------------------

step "the shipped Caddyfiles validate with PUBLIC_HOST set"
# In a folder of its own: validating provisions a local CA, which must not land in root's home.
for caddyfile in Caddyfile Caddyfile.replicas; do
    PUBLIC_HOST=localhost XDG_DATA_HOME=$WORK/validate XDG_CONFIG_HOME=$WORK/validate \
        caddy validate --config "$ROOT/$caddyfile" --adapter caddyfile >"$WORK/validate.log" 2>&1 ||
        { cat "$WORK/validate.log" >&2; fail "caddy validate rejected $caddyfile"; }
done

HTTPS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s|\${DEPLOY_TEST_DIR}|$WORK|g" -e "s|\${DEPLOY_TEST_HTTPS_PORT}|$HTTPS_PORT|g" \
    "$ROOT/deploy/compose.test.yml" >"$WORK/compose.test.yml"
SINGLE_FILES=("$ROOT/docker-compose.yml" "$WORK/compose.test.yml")
REPLICA_FILES=("$ROOT/docker-compose.yml" "$ROOT/docker-compose.replicas.yml" "$WORK/compose.test.yml"
    "$ROOT/deploy/compose.replicas.test.yml")
# Caddy's local CA, made before Caddy starts so that the emulators can trust it from their first
# request; Caddy signs its intermediate and the certificate for localhost with it.
mkdir -p "$WORK/ca"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=Deploy test local CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$WORK/ca/root.key" -out "$WORK/ca/root.crt" >/dev/null 2>&1

# Stacks left behind by an interrupted run would hold the projects' names.
use_stack "$REPLICAS_PROJECT" "${REPLICA_FILES[@]}"
compose down -v -t 5 >/dev/null 2>&1 || true
use_stack "$PROJECT" "${SINGLE_FILES[@]}"
compose down -v -t 5 >/dev/null 2>&1 || true

step "building the bot's image from the Dockerfile (compose build)"
previous=$(podman image inspect --format '{{.Id}}' "$BOT_IMAGE" 2>/dev/null || true)
compose build bot >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; fail "the image did not build"; }
# The image a rebuild replaced, so that runs do not pile up images; its cached layers stay.
if [[ -n $previous && $previous != $(podman image inspect --format '{{.Id}}' "$BOT_IMAGE") ]]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
fi
volumes_before=$(podman volume ls -q | sort)

container() {
    podman ps -a --filter "label=io.podman.compose.project=$STACK_PROJECT" \
        --filter "label=com.docker.compose.service=$1" --format '{{.Names}}' | head -n1
}
emulators_ready() {
    podman exec "$EMULATORS" python -c \
        'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8083/healthz", timeout=2)' 2>/dev/null
}
start_emulators() {
    compose up -d emulators >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; fail "compose up emulators"; }
    EMULATORS=$(container emulators)
    wait_for "the emulators answering" 60 emulators_ready
}
https() {
    curl -sS -o /dev/null -w '%{http_code}' --cacert "$WORK/ca/root.crt" \
        --resolve "localhost:$HTTPS_PORT:127.0.0.1" --max-time 5 "https://localhost:$HTTPS_PORT$1"
}
healthz_ok() { [[ $(https /healthz 2>/dev/null) == 200 ]]; }
# A replica's own /metrics, read inside its container (Caddy does not forward it).
replica_metrics() {
    podman exec "$1" python -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:8080/metrics", timeout=4).read().decode())'
}

# `play PERSON TEXT [AUDIOS]`: a person sends TEXT and waits until AUDIOS (default 2) songs have come in
# all, the public way, with no limit violation (two replicas share the limits as one does). The emulators
# count every track they made as the person's: one person a run.
play() {
    local person=$1 text=$2 audios=${3:-2}
    podman exec "$EMULATORS" python -m emulators play --user "$person" --say "$text" --audios "$audios" \
        --timeout 120 >"$WORK/play.json" || fail "the songs were not delivered: $(cat "$WORK/play.json")"
    python3 - "$WORK/play.json" "$audios" <<'PY' || fail "the songs did not come the public way"
import json, sys

report = json.load(open(sys.argv[1]))
audios = report["audios"]
assert len(audios) == int(sys.argv[2]) and all(a["mime_type"] == "audio/mpeg" for a in audios), audios
# The person's message reached the bot as Telegram's would: the webhook, through Caddy over HTTPS.
webhook = report["webhook"]
assert webhook and all(d["url"] == "https://localhost/telegram" and d["status"] == 200 for d in webhook), webhook
callbacks = report["callbacks"]
assert callbacks and all(c["url"].startswith("https://localhost/callbacks/") for c in callbacks), callbacks
assert all(c["delivered"] for c in callbacks), callbacks
assert report["violations"] == 0, f"{report['violations']} limit violations"
print(f"  {len(audios)} audios delivered ({', '.join(a['title'] for a in audios)}), "
      f"{len(webhook)} webhook deliveries and {len(callbacks)} provider callbacks through Caddy")
PY
}

# `stopped_cleanly CONTAINER`: after `compose stop`, it exited 0 and logged no error and no secret.
stopped_cleanly() {
    local name=$1 status
    status=$(podman inspect --format '{{.State.ExitCode}}' "$name")
    podman logs "$name" >"$WORK/$name.log" 2>&1
    [[ $status == 0 ]] || { tail -n 30 "$WORK/$name.log" >&2; fail "$name exited with $status on SIGTERM"; }
    if grep -nE 'ERROR|CRITICAL|Traceback|Unclosed' "$WORK/$name.log" >&2; then
        fail "$name logged the errors above"
    fi
    grep -q 'EMULATOR-token\|emulator-suno-key\|deploy-test-not-a-secret' "$WORK/$name.log" &&
        fail "$name's log shows its token, key or database password"
    echo "  $name stopped on SIGTERM with status 0; $(wc -l <"$WORK/$name.log") log lines, no error, no secret"
}

# `down`: compose down -v, and nothing of the stack left behind.
down() {
    compose down -v -t 30 >"$WORK/down.log" 2>&1 || { cat "$WORK/down.log" >&2; fail "compose down"; }
    stack_up=0
    local left
    left=$(podman ps -a --filter "label=io.podman.compose.project=$STACK_PROJECT" --format '{{.Names}}')
    [[ -z $left ]] || fail "compose down left containers: $left"
    left=$(comm -13 <(echo "$volumes_before") <(podman volume ls -q | sort))
    [[ -z $left ]] || fail "compose down -v left volumes: $left"
}

# --- One replica: docker-compose.yml as shipped --------------------------------------------------

single_replica() {
    use_stack "$PROJECT" "${SINGLE_FILES[@]}"
    stack_up=1
    step "one replica: starting the emulators, then the stack (compose up -d)"
    start_emulators
    compose up -d >>"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; fail "compose up"; }
    BOT=$(container bot)
    [[ -n $BOT && -n $(container caddy) ]] || fail "compose up did not create the bot and caddy containers"

    step "waiting for https://localhost:$HTTPS_PORT/healthz through Caddy"
    wait_for "/healthz answering 200 through Caddy over HTTPS" 120 healthz_ok

    step "checking what Caddy forwards"
    local path code
    for path in /metrics /metrics/process / /admin; do
        code=$(https "$path") || fail "$path: no answer through Caddy"
        [[ $code == 404 ]] || fail "$path answered $code through Caddy, expected 404"
    done
    # The 404 is Caddy's doing: the bot itself serves /metrics on the compose network.
    replica_metrics "$BOT" >/dev/null || fail "the bot's own /metrics does not answer inside its container"

    step "a person sends /generate and waits for the songs"
    play "$PERSON" "/generate a calm song about containers sailing at night"

    step "the bot's health check and user"
    podman healthcheck run "$BOT" >/dev/null || fail "podman healthcheck run $BOT failed"
    local uid
    uid=$(podman exec "$BOT" awk '/^Uid:/ { print $2 }' /proc/1/status)
    [[ -n $uid && $uid != 0 ]] || fail "the bot runs as uid '$uid'"
    echo "  healthy; the bot's process runs as uid $uid"

    step "compose stop, then compose down"
    # SIGTERM, as `docker compose down` and a host's shutdown send it: the bot must stop by itself, well
    # within the grace period, and say nothing alarming on the way.
    compose stop -t 30 >"$WORK/stop.log" 2>&1 || { cat "$WORK/stop.log" >&2; fail "compose stop"; }
    stopped_cleanly "$BOT"
    down
}

# --- Several replicas: docker-compose.replicas.yml on top ---------------------------------------

postgres_healthy() { podman healthcheck run "$POSTGRES" >/dev/null 2>&1; }
replica_healthy() { podman healthcheck run "$1" >/dev/null 2>&1; }
# The callbacks a replica took and stored, from its own /metrics (a forged or unknown one is no proof).
callbacks_taken() {
    replica_metrics "$1" | awk '/^bot_callbacks_total\{result="stored"\}/ { n += $2 } END { printf "%d\n", n }'
}
# `answers_in_a_row N`: N requests through Caddy in a row, every one 200 (round robin would hand a
# dead replica its share, were it not left out).
answers_in_a_row() {
    local i code
    for ((i = 0; i < $1; i++)); do
        code=$(https /healthz) || fail "/healthz: no answer through Caddy (request $((i + 1)) of $1)"
        [[ $code == 200 ]] || fail "/healthz answered $code through Caddy (request $((i + 1)) of $1)"
    done
}

replicas() {
    use_stack "$REPLICAS_PROJECT" "${REPLICA_FILES[@]}"
    stack_up=1
    step "replicas: starting the emulators and PostgreSQL"
    start_emulators
    compose up -d postgres >>"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; fail "compose up postgres"; }
    POSTGRES=$(container postgres)
    # podman before 4.6 neither schedules health checks nor waits on `condition: service_healthy`: the
    # script runs the stack's own pg_isready check until it passes, as Docker would before the replicas.
    wait_for "PostgreSQL healthy (pg_isready)" 60 postgres_healthy

    step "replicas: two bots and Caddy (compose up -d)"
    compose up -d >>"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; fail "compose up"; }
    local first second
    first=$(container bot)
    second=$(container bot-2)
    [[ -n $first && -n $second && -n $(container caddy) ]] ||
        fail "compose up did not create bot, bot-2 and caddy"
    wait_for "$first healthy" 120 replica_healthy "$first"
    wait_for "$second healthy" 120 replica_healthy "$second"
    wait_for "/healthz answering 200 through Caddy over HTTPS" 60 healthz_ok
    # Both on the one database: each replica's own SQLite file would leave the other's work unseen.
    local url
    for name in "$first" "$second"; do
        url=$(podman exec "$name" printenv DATABASE_URL)
        [[ $url == postgresql://*@postgres:5432/* ]] || fail "$name has DATABASE_URL '${url%%:*}:…', not the postgres service"
    done

    step "replicas: a person's songs through the balancer"
    play $((PERSON + 1)) "/generate a song about two ships sharing one harbour" 2
    local first_took second_took
    first_took=$(callbacks_taken "$first")
    second_took=$(callbacks_taken "$second")
    echo "  provider callbacks taken: $first_took by $first, $second_took by $second"
    ((first_took > 0 && second_took > 0)) || fail "Caddy did not spread the callbacks over both replicas"
    local tasks
    tasks=$(podman exec "$POSTGRES" psql -U bot -d bot -Atc 'SELECT count(*) FROM tasks') ||
        fail "the tasks table is not in PostgreSQL"
    ((tasks >= 1)) || fail "PostgreSQL holds $tasks tasks after a song"
    echo "  PostgreSQL holds $tasks task(s)"

    step "replicas: podman kill $first; the service keeps answering"
    podman kill "$first" >/dev/null
    answers_in_a_row 10
    echo "  10 requests in a row through Caddy answered 200 with $first dead"

    step "replicas: the person's next songs, with one replica left"
    play $((PERSON + 1)) "/generate a song about the last ship in the harbour" 4
    [[ $(podman inspect --format '{{.State.Running}}' "$first") == false ]] ||
        fail "$first came back: the song above may not have been the survivor's alone"

    step "replicas: compose stop, then compose down"
    compose stop -t 30 >"$WORK/stop.log" 2>&1 || { cat "$WORK/stop.log" >&2; fail "compose stop"; }
    stopped_cleanly "$second"
    down
}

[[ $ONLY == replicas ]] || single_replica
[[ $ONLY == single ]] || replicas

case $ONLY in
    single) what="one replica" ;;
    replicas) what="two replicas on PostgreSQL behind Caddy, one of them killed" ;;
    *) what="one replica, then two on PostgreSQL behind Caddy, one of them killed" ;;
esac
step "PASS: deployed ($what), served over HTTPS, delivered songs and shut down cleanly"
