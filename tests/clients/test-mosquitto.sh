#!/bin/bash
# mosquitto_pub / mosquitto_sub (Debian's mosquitto-clients) against a real
# `starlingd --dev`, at MQTT 5 and 3.1.1.  Prints TAP.
#
# Needs: STARLINGD (from meson's test_env), mosquitto_pub and mosquitto_sub
# (Debian: mosquitto-clients), timeout and stdbuf (coreutils).
#
# Every client runs under `timeout` or with -W, so no wait is unbounded.
# Subscribers run with -d so we can tell when the SUBACK arrived before we
# publish; their messages are printed with -F and a "MSG|" prefix so they can
# be told apart from the debug lines.
#
# WebSocket is not covered here: Debian 12's mosquitto-clients 2.0.11 has no
# WebSocket transport (the MQTT.js tests cover ws:// and wss://).

set -u

: "${STARLINGD:?STARLINGD must point at the built starlingd (meson test_env sets it)}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/starling-mosq-XXXXXX")
BROKER_PID=
PIDS=()

# Ends the background clients of a test.  Most run under timeout(1), which
# passes SIGTERM on to its child but cannot pass on SIGKILL: killing the
# wrapper outright would orphan the client.  So TERM, a bounded wait, then
# KILL for whatever is left.
stop_clients ()
{
  local p i
  for p in "${PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null
  done
  for i in $(seq 20); do
    local alive=0
    for p in "${PIDS[@]}"; do
      kill -0 "$p" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  PIDS=()
}

cleanup ()
{
  stop_clients
  if [ -n "$BROKER_PID" ]; then
    kill -TERM "$BROKER_PID" 2>/dev/null
    # Bounded wait for a clean exit, then force it.
    for _ in $(seq 50); do
      kill -0 "$BROKER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$BROKER_PID" 2>/dev/null
    wait "$BROKER_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

diag ()
{
  sed 's/^/# /' >&1
}

# ---- broker ---------------------------------------------------------------

json_port ()
{
  # json_port NAME FILE: the port of listener NAME in the ready file.
  local re="\"$1\"[[:space:]]*:[[:space:]]*\\{[^}]*\"port\"[[:space:]]*:[[:space:]]*([0-9]+)"
  [[ $(tr -d '\n' < "$2") =~ $re ]] && echo "${BASH_REMATCH[1]}"
}

start_broker ()
{
  mkdir -p "$TMP/data"
  "$STARLINGD" --dev --data-dir "$TMP/data" \
    --mqtt 127.0.0.1:0 --mqtts 127.0.0.1:0 --ws 127.0.0.1:0 --wss 127.0.0.1:0 --api 127.0.0.1:0 \
    --threads 2 --ready-file "$TMP/ready.json" \
    > "$TMP/broker.out" 2> "$TMP/broker.err" &
  BROKER_PID=$!
  local i
  for i in $(seq 100); do
    if [ -s "$TMP/ready.json" ]; then
      MQTT_PORT=$(json_port mqtt "$TMP/ready.json")
      MQTTS_PORT=$(json_port mqtts "$TMP/ready.json")
      [ -n "$MQTT_PORT" ] && [ -n "$MQTTS_PORT" ] && return 0
    fi
    kill -0 "$BROKER_PID" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}

# ---- clients --------------------------------------------------------------

# start_sub NAME ARGS...: mosquitto_sub -d in the background on the plain
# listener, output in $TMP/NAME.out; returns once the SUBACK is in (10 s max).
start_sub ()
{
  local name=$1; shift
  fresh "$name"
  timeout 30 stdbuf -oL mosquitto_sub -d -h 127.0.0.1 -p "$MQTT_PORT" -W 10 \
    -F 'MSG|%t|%q|%r|%p' "$@" > "$TMP/$name.out" 2> "$TMP/$name.err" &
  eval "SUB_$name=$!"
  PIDS+=($!)
  wait_for_suback "$name"
}

# fresh NAME...: empty NAME.out/.err now, in this shell.  A redirection on a
# background job truncates only once the child runs, so without this the
# SUBACK poll could read the previous test's file that used the same name.
fresh ()
{
  local n
  for n in "$@"; do
    : > "$TMP/$n.out"
    : > "$TMP/$n.err"
  done
}

wait_for_suback ()
{
  local i
  for i in $(seq 100); do
    grep -q '^Subscribed (mid' "$TMP/$1.out" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no SUBACK for $1 within 10 s" >> "$TMP/why"
  return 1
}

# wait_sub NAME: wait for the background subscriber to exit (bounded by its
# own -W/-C and `timeout`), returning its exit status.
wait_sub ()
{
  local var="SUB_$1"
  wait "${!var}"
}

messages ()
{
  grep '^MSG|' "$TMP/$1.out" | sed 's/^MSG|//'
}

pub ()
{
  timeout 20 mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" "$@" 2>> "$TMP/why"
}

expect_eq ()
{
  # expect_eq WHAT EXPECTED ACTUAL
  if [ "$2" != "$3" ]; then
    {
      echo "$1: expected:"
      printf '%s\n' "$2"
      echo "$1: got:"
      printf '%s\n' "$3"
    } >> "$TMP/why"
    return 1
  fi
}

# ---- tests ----------------------------------------------------------------
# Each test is a function; it gets the protocol (mqttv5 / mqttv311) as $1 and
# returns 0 for ok.  Topics carry the protocol so the versions don't mix.

t_qos ()
{
  local v=$1 q=$2 top="qos/$1/$2"
  start_sub s -V "$v" -q 2 -t "$top/#" -C 1 || return 1
  pub -V "$v" -q "$q" -t "$top/x" -m "hello at qos $q" || return 1
  wait_sub s || { echo "mosquitto_sub exited non-zero" >> "$TMP/why"; return 1; }
  # Delivered QoS is the minimum of publish and subscription QoS (2).
  expect_eq message "$top/x|$q|0|hello at qos $q" "$(messages s)"
}

t_verbose_hash ()
{
  # `-t '#' -v` prints "topic payload".  -R leaves out retained messages
  # that earlier tests may have left, so -C 3 counts only ours.
  local v=$1 top="verbose/$1"
  fresh v
  timeout 30 stdbuf -oL mosquitto_sub -d -h 127.0.0.1 -p "$MQTT_PORT" -V "$v" -q 1 \
    -t '#' -v -R -C 3 -W 10 > "$TMP/v.out" 2> "$TMP/v.err" &
  SUB_v=$!; PIDS+=($!)
  wait_for_suback v || return 1
  pub -V "$v" -q 0 -t "$top/a" -m "zero" || return 1
  pub -V "$v" -q 1 -t "$top/b" -m "one" || return 1
  pub -V "$v" -q 2 -t "$top/c" -m "two words" || return 1
  wait_sub v || { echo "mosquitto_sub exited non-zero" >> "$TMP/why"; return 1; }
  expect_eq "-v output" "$top/a zero
$top/b one
$top/c two words" "$(grep "^$top/" "$TMP/v.out")"
}

t_retained ()
{
  local v=$1 top="retain/$1/t"
  pub -V "$v" -q 1 -r -t "$top" -m "kept" || return 1
  # A subscriber that arrives later gets it, flagged retained.
  start_sub r1 -V "$v" -q 1 -t "$top" -C 1 || return 1
  wait_sub r1 || { echo "no retained message for a later subscriber" >> "$TMP/why"; return 1; }
  expect_eq "retained delivery" "$top|1|1|kept" "$(messages r1)" || return 1
  # An empty retained payload clears it: a new subscriber's first message is
  # then the live one we send after its SUBACK, not the old retained one.
  pub -V "$v" -q 1 -r -n -t "$top" || return 1
  start_sub r2 -V "$v" -q 1 -t "$top" -C 1 || return 1
  pub -V "$v" -q 1 -t "$top" -m "live" || return 1
  wait_sub r2 || { echo "mosquitto_sub exited non-zero" >> "$TMP/why"; return 1; }
  expect_eq "after clearing" "$top|1|0|live" "$(messages r2)"
}

t_properties ()
{
  local top="props/mqttv5/t"
  fresh p
  timeout 30 stdbuf -oL mosquitto_sub -d -h 127.0.0.1 -p "$MQTT_PORT" -V mqttv5 -q 1 \
    -t "$top" -C 1 -W 10 -F 'MSG|%t|%P|%C|%R|%D|%p' \
    > "$TMP/p.out" 2> "$TMP/p.err" &
  SUB_p=$!; PIDS+=($!)
  wait_for_suback p || return 1
  pub -V mqttv5 -q 1 -t "$top" -m "with props" \
    -D publish user-property colour blue \
    -D publish user-property colour green \
    -D publish content-type text/plain \
    -D publish response-topic reply/here \
    -D publish correlation-data corr-42 || return 1
  wait_sub p || { echo "mosquitto_sub exited non-zero" >> "$TMP/why"; return 1; }
  # Two user properties with the same key must both arrive, in order.
  expect_eq properties \
    "$top|colour:blue colour:green|text/plain|reply/here|corr-42|with props" \
    "$(messages p)"
}

t_will ()
{
  local v=$1 top="will/$1"
  start_sub w -V "$v" -q 1 -t "$top/#" -C 1 || return 1
  # The client whose will we want: a plain subscriber on another topic.
  # exec so that $! is mosquitto_sub itself and SIGKILL hits it: a killed
  # process cannot send DISCONNECT, the kernel just closes the socket.
  fresh dying
  ( exec timeout -s KILL 30 stdbuf -oL mosquitto_sub -d -h 127.0.0.1 -p "$MQTT_PORT" \
      -V "$v" -t "idle/$v" -i "will-$v" \
      --will-topic "$top/gone" --will-payload "will-$v died" --will-qos 1 \
      > "$TMP/dying.out" 2> "$TMP/dying.err" ) &
  local dying=$!
  PIDS+=($dying)
  wait_for_suback dying || return 1
  # timeout(1) is the parent; kill the real client (its only child).
  local client
  # (/proc rather than pgrep: no procps needed.)
  client=$(cat "/proc/$dying/task/$dying/children" 2>/dev/null)
  client=${client%% *}
  if [ -z "$client" ] && command -v pgrep > /dev/null; then
    client=$(pgrep -P "$dying" -x mosquitto_sub)
  fi
  if [ -n "$client" ] && [ "$(cat "/proc/$client/comm" 2>/dev/null)" != mosquitto_sub ]; then
    client=
  fi
  if [ -z "$client" ]; then
    echo "could not find the mosquitto_sub to kill" >> "$TMP/why"
    return 1
  fi
  kill -KILL "$client"
  wait "$dying" 2>/dev/null
  wait_sub w || { echo "no will message within 10 s" >> "$TMP/why"; return 1; }
  if grep -q 'sending DISCONNECT' "$TMP/dying.out"; then
    echo "the killed client sent DISCONNECT?" >> "$TMP/why"
    return 1
  fi
  expect_eq will "$top/gone|1|0|will-$v died" "$(messages w)"
}

t_no_will_on_disconnect ()
{
  # A client that ends with a normal DISCONNECT (reason 0: mosquitto_sub -E
  # does that once its SUBACK is in) must not have its will published: the
  # subscriber's first message must be the sentinel we publish afterwards.
  local v=$1 top="nowill/$1"
  start_sub n -V "$v" -q 1 -t "$top/#" -C 1 || return 1
  timeout 20 stdbuf -oL mosquitto_sub -d -h 127.0.0.1 -p "$MQTT_PORT" -V "$v" \
    -t "idle2/$v" -E --will-topic "$top/gone" \
    --will-payload "should not be sent" --will-qos 1 \
    > "$TMP/polite.out" 2> "$TMP/polite.err" \
    || { echo "mosquitto_sub -E failed" >> "$TMP/why"; return 1; }
  if ! grep -q 'sending DISCONNECT' "$TMP/polite.out"; then
    echo "mosquitto_sub -E did not send DISCONNECT" >> "$TMP/why"
    return 1
  fi
  # The will, if wrongly sent, is due the moment the connection ends.
  sleep 0.5
  pub -V "$v" -q 1 -t "$top/sentinel" -m "sentinel" || return 1
  wait_sub n || { echo "mosquitto_sub exited non-zero" >> "$TMP/why"; return 1; }
  expect_eq "first message" "$top/sentinel|1|0|sentinel" "$(messages n)"
}

t_will_on_disconnect_0x04 ()
{
  # MQTT 5 only: mosquitto_sub, on SIGTERM, sends DISCONNECT with reason 0x04
  # "Disconnect with Will Message", which asks the server to publish the will.
  local top="will04/mqttv5"
  start_sub w4 -V mqttv5 -q 1 -t "$top/#" -C 1 || return 1
  fresh asker
  timeout 30 stdbuf -oL mosquitto_sub -d -h 127.0.0.1 -p "$MQTT_PORT" \
    -V mqttv5 -t "idle3" --will-topic "$top/gone" \
    --will-payload "asked for" --will-qos 1 \
    > "$TMP/asker.out" 2> "$TMP/asker.err" &
  local asker=$!
  PIDS+=($asker)
  wait_for_suback asker || return 1
  # timeout(1) passes SIGTERM on to mosquitto_sub.
  kill -TERM "$asker"
  wait "$asker"
  if ! grep -q 'sending DISCONNECT' "$TMP/asker.out"; then
    echo "mosquitto_sub did not send DISCONNECT on SIGTERM" >> "$TMP/why"
    return 1
  fi
  wait_sub w4 || { echo "no will message within 10 s" >> "$TMP/why"; return 1; }
  expect_eq will "$top/gone|1|0|asked for" "$(messages w4)"
}

t_session ()
{
  # A persistent session (MQTT 5: clean start 0 + session expiry; 3.1.1:
  # clean session 0) keeps QoS 1 messages published while it is offline.
  local v=$1 top="session/$1/t" id="sess-$1"
  local extra=()
  [ "$v" = mqttv5 ] && extra=(-x 300)
  # First connection: create the session and its subscription, then leave.
  timeout 20 mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -V "$v" -c -i "$id" \
    "${extra[@]}" -q 1 -t "$top" -E > "$TMP/s0.out" 2>> "$TMP/why" \
    || { echo "first connection failed" >> "$TMP/why"; return 1; }
  pub -V "$v" -q 1 -t "$top" -m "while away 1" || return 1
  pub -V "$v" -q 1 -t "$top" -m "while away 2" || return 1
  # Reconnect without subscribing again: the queue is delivered.
  timeout 20 mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -V "$v" -c -i "$id" \
    "${extra[@]}" -q 1 -t "$top" -C 2 -W 10 -F 'MSG|%t|%q|%r|%p' \
    > "$TMP/s1.out" 2>> "$TMP/why" \
    || { echo "queued messages did not arrive within 10 s" >> "$TMP/why"; return 1; }
  expect_eq queued "$top|1|0|while away 1
$top|1|0|while away 2" "$(messages s1)"
}

t_tls ()
{
  local v=$1 top="tls/$1/t"
  local ca="$TMP/data/tls/ca.pem"
  if [ ! -s "$ca" ]; then
    echo "no CA at $ca" >> "$TMP/why"
    return 1
  fi
  fresh tls
  timeout 30 stdbuf -oL mosquitto_sub -d -h localhost -p "$MQTTS_PORT" --cafile "$ca" \
    -V "$v" -q 1 -t "$top" -C 1 -W 10 -F 'MSG|%t|%q|%r|%p' \
    > "$TMP/tls.out" 2> "$TMP/tls.err" &
  SUB_tls=$!; PIDS+=($!)
  wait_for_suback tls || { cat "$TMP/tls.err" >> "$TMP/why"; return 1; }
  timeout 20 mosquitto_pub -h localhost -p "$MQTTS_PORT" --cafile "$ca" \
    -V "$v" -q 1 -t "$top" -m "over tls" 2>> "$TMP/why" || return 1
  wait_sub tls || { echo "mosquitto_sub exited non-zero" >> "$TMP/why"; return 1; }
  expect_eq "tls message" "$top|1|0|over tls" "$(messages tls)"
}

t_tls_wrong_ca ()
{
  # The server certificate must not verify against an unrelated CA: proves
  # the TLS test above really checks the chain.
  local v=$1
  # A CA that signed nothing of ours (its key was thrown away).
  cat > "$TMP/other.pem" <<'PEM'
-----BEGIN CERTIFICATE-----
MIIBqzCCAVGgAwIBAgIUa/Zn0zR8lJwAnCu+E9FiHtHNAWwwCgYIKoZIzj0EAwIw
KjEoMCYGA1UEAwwfU3RhcmxpbmcgdGVzdHM6IGFuIHVucmVsYXRlZCBDQTAgFw0y
NjExMjUxODI3NDVaGA8yMTI2MTEwMTE4Mjc0NVowKjEoMCYGA1UEAwwfU3Rhcmxp
bmcgdGVzdHM6IGFuIHVucmVsYXRlZCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABMMDaCffaHcvflthMTTH0kMDnwzpd4EpoKmtGeK2f+ncSE/0/aMr31Q28pPh
nuRROrE1UEjpXAm/jENPeV5r9nyjUzBRMB0GA1UdDgQWBBTXvAPLFPiRHYat9MyW
GVLmeNsKcDAfBgNVHSMEGDAWgBTXvAPLFPiRHYat9MyWGVLmeNsKcDAPBgNVHRMB
Af8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCnnYXYAgi7IgXnH5RacX0ieH1R
8Ctx39e14A6fELxa8gIgC+LSVLrJ4r4elLIbyXm/u7ItZmHAc+Bx8dsNJmgFxro=
-----END CERTIFICATE-----
PEM
  # -d makes it print OpenSSL's reason.
  if timeout 20 mosquitto_pub -d -h localhost -p "$MQTTS_PORT" \
      --cafile "$TMP/other.pem" -V "$v" -t "tls/wrong" -m x > "$TMP/wrong.err" 2>&1; then
    echo "connected with the wrong CA" >> "$TMP/why"
    return 1
  fi
  # Refused for the right reason, not because the listener is down.
  if ! grep -qi 'certificate verify failed' "$TMP/wrong.err"; then
    echo "refused, but not by certificate verification:" >> "$TMP/why"
    cat "$TMP/wrong.err" >> "$TMP/why"
    return 1
  fi
}

# ---- runner ---------------------------------------------------------------

TESTS=()
for v in mqttv5 mqttv311; do
  TESTS+=("$v: QoS 0 round trip|t_qos $v 0")
  TESTS+=("$v: QoS 1 round trip|t_qos $v 1")
  TESTS+=("$v: QoS 2 round trip|t_qos $v 2")
  TESTS+=("$v: sub -t '#' -v prints what pub sends at QoS 0/1/2|t_verbose_hash $v")
  TESTS+=("$v: retained message reaches a later subscriber and -r -n clears it|t_retained $v")
  [ "$v" = mqttv5 ] && TESTS+=("$v: user properties, content type, response topic, correlation data intact|t_properties")
  TESTS+=("$v: will published when the client is SIGKILLed|t_will $v")
  TESTS+=("$v: no will after a normal DISCONNECT|t_no_will_on_disconnect $v")
  [ "$v" = mqttv5 ] && TESTS+=("$v: will published after DISCONNECT 0x04 (SIGTERM)|t_will_on_disconnect_0x04")
  TESTS+=("$v: persistent session gets QoS 1 messages sent while offline|t_session $v")
  TESTS+=("$v: TLS with --cafile ca.pem -h localhost|t_tls $v")
  TESTS+=("$v: TLS refuses a server not signed by the given CA|t_tls_wrong_ca $v")
done

echo "1..${#TESTS[@]}"

if ! start_broker; then
  if kill -0 "$BROKER_PID" 2>/dev/null; then
    echo "Bail out! starlingd did not write a usable ready file within 10 s"
  else
    echo "Bail out! starlingd exited before it was ready"
  fi
  { echo "--- stderr:"; tail -n 20 "$TMP/broker.err"; } 2>/dev/null | diag
  exit 1
fi
echo "# starlingd pid $BROKER_PID: mqtt $MQTT_PORT, mqtts $MQTTS_PORT"

n=0
failed=0
for entry in "${TESTS[@]}"; do
  n=$((n + 1))
  name=${entry%%|*}
  cmd=${entry#*|}
  : > "$TMP/why"
  touch "$TMP/.mark"
  if $cmd; then
    echo "ok $n - $name"
  else
    echo "not ok $n - $name"
    diag < "$TMP/why"
    # What the clients of this test printed, for the log.
    for f in "$TMP"/*.out "$TMP"/*.err; do
      [ "$f" -nt "$TMP/.mark" ] || continue
      echo "# --- ${f##*/}:"
      tail -n 8 "$f" | diag
    done
    failed=$((failed + 1))
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
      echo "# starlingd is gone; its last stderr:"
      tail -n 20 "$TMP/broker.err" | diag
      BROKER_PID=
      echo "Bail out! starlingd exited during the tests"
      exit 1
    fi
  fi
  stop_clients
done

[ "$failed" -eq 0 ]
