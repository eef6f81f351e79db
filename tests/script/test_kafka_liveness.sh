#!/usr/bin/env bash
# script/kafka's idea of "this node is alive", tested with a fake java (no broker needed):
#  1. a launcher that takes a while to exec the JVM, with a command line that does not name
#     the node's server.properties meanwhile, is still the node starting, not a node that exited;
#  2. a JVM that really dies during startup is reported with its exit status and its stderr.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=$(mktemp -d)
cleanup() {
  local pid
  for pid in $(cat "$TMP"/state/node-*/pid 2>/dev/null | cut -d' ' -f1); do kill -KILL "$pid" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
fails=0
check() { # check DESCRIPTION COMMAND...
  if "${@:2}"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi
}

mkdir -p "$TMP/jdk/bin" "$TMP/state"
cat >"$TMP/jdk/bin/java" <<'FAKE'
#!/usr/bin/env bash
# The kafka.Kafka launch: "slow" re-execs through a shell whose command line does not name
# the properties file (as a launcher mid-exec shows none) before it becomes the "JVM";
# "die" prints to stderr and exits 3, as a JVM with a bad option or main class does.
case $FAKE_JAVA_MODE in
  slow)
    printf '%s\0' "$@" >"$FAKE_JAVA_ARGS"
    exec bash -c 'sleep 3; mapfile -d "" a <"$FAKE_JAVA_ARGS"; exec -a java bash -c "sleep 30; :" "${a[@]}"' ;;
  die)
    echo "Error: Could not find or load main class kafka.Kafka (fake)" >&2
    exit 3 ;;
esac
FAKE
chmod +x "$TMP/jdk/bin/java"
export JAVA_HOME=$TMP/jdk KAFKETTE_KAFKA_DIR=$TMP/state FAKE_JAVA_ARGS=$TMP/args
echo "$TMP/jdk/bin/java" >"$TMP/classpath.txt"

# shellcheck disable=SC1091
source "$ROOT/script/kafka"
set +e # the sourced script turned on errexit; this test counts failures itself
not() { ! "$@"; }
CLASSPATH_FILE=$TMP/classpath.txt LOGGING=log4j2 BROKERS=1
PORTS=$(free_ports 1) CONTROLLER_PORTS=$(free_ports 1) VERSION=4.4.0 SETS=()
START_TIMEOUT=20
write_log_config
write_properties 1

# 1. the launcher is still on its way to the JVM: alive, and still alive later
export FAKE_JAVA_MODE=slow
launch_node 1
sleep 1
check "a node whose launcher has not yet exec'd the JVM is alive" node_alive 1
sleep 3
check "the node is alive once the JVM runs" node_alive 1
pid=$(node_pid 1)
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
check "a killed node is not alive" not node_alive 1
rm -f "$(node_dir 1)/pid"
# under errexit, as script/kafka runs: a node without a pid file is "not alive", and the caller
# goes on (start-node and status used to end silently here, since $(<missing) exits the shell)
survived=$(set -e; node_alive 1 && echo alive; node_pid 1 || echo no-pid; echo survived)
check "a node without a pid file is not alive, and errexit scripts go on" \
  test "$survived" = "$(printf 'no-pid\nsurvived')"

# 2. the JVM dies during startup: wait_ready says so with the exit status and stderr
export FAKE_JAVA_MODE=die
launch_node 1
wait_ready 1 1 2>"$TMP/report" # not in $(...): the node must stay this shell's child
rc=$?
out=$(<"$TMP/report")
check "wait_ready fails when the JVM dies" test "$rc" -ne 0
check "the report names the exit status" grep -q "exit status 3" <<<"$out"
check "the report shows the JVM's stderr" grep -q "Could not find or load main class" <<<"$out"
echo "--- wait_ready said:"; echo "$out"
exit $((fails > 0))
