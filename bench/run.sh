#!/usr/bin/env bash
# Runs the benchmarks of SPEC section 5 (see BENCHMARKS.md). Finds a JDK >= 21 by itself, builds the
# benchmarks jar with ./mvnw when it is missing or older than the sources.
#
#   bench/run.sh [quick]      N1, N2, N3 (shared memory, 1 and 2 JVMs) and N6 (worker calls) in one
#                             JMH run (1 fork, 2x1 s warm-up, 3x1 s measurement, -prof gc), Markdown
#                             tables with ratios, then N5 accuracy (3 s per limiter). About 5 minutes.
#   bench/run.sh full         the same benchmarks, 2 forks, 3x2 s warm-up, 5x2 s measurement, -prof gc;
#                             accuracy 10 s each. About 20 minutes.
#   bench/run.sh hazelcast    N4b: a client with 8 threads on a cluster of 3 member JVMs on loopback, one hot set,
#                             against Bucket4j's Hazelcast backend and no-op entry processors (1 fork, 2x2 s warm-up,
#                             3x3 s measurement per benchmark, each on its own cluster; ~4 min).
#   bench/run.sh accuracy [seconds] [threads]     N5 only.
#   bench/run.sh redis [quick|throughput]         N4: Redis on loopback, 8 threads (1 fork, 2x2 s warm-up,
#                             3x3 s measurement; quick = throughput then latency percentiles, ~4 min).
#                             Each benchmark starts its own redis-server on a free port (needs redis-server).
#   bench/run.sh keyed                            issue 21: KeyedBench (1,000,000 keys, uniform and Zipf, vs one
#                             set and Bucket4j per key; 1 fork, 3x2 s warm-up, 5x2 s measurement, -prof gc),
#                             then KeyedFootprint (bytes per key, 100,000 keys). About 6 minutes.
#   bench/run.sh jmh [JMH options...]             the JMH command line, e.g. jmh -l, or
#                             jmh 'N1OneThread.concurryGcra' -prof gc -f 1 -wi 2 -i 3
#
# The JMH results (JSON) go to bench/results/<profile>-<date>.json and the output to a .txt beside it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

java_major() {   # prints the major version of the java at $1/bin/java, or nothing
  local v
  v="$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')" || return 0
  echo "${v%%.*}"
}

find_jdk() {     # the newest JDK >= 21 among JAVA_HOME and /usr/lib/jvm/*
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  for d in /usr/lib/jvm/*; do [ -d "$d" ] && candidates+=("$d"); done
  local best="" best_v=0 v
  for d in "${candidates[@]}"; do
    [ -x "$d/bin/java" ] && [ -x "$d/bin/javac" ] || continue
    v="$(java_major "$d")"
    [[ "$v" =~ ^[0-9]+$ ]] || continue
    if [ "$v" -ge 21 ] && [ "$v" -gt "$best_v" ]; then best="$d"; best_v="$v"; fi
  done
  echo "$best"
}

jdk="$(find_jdk)"
if [ -z "$jdk" ]; then
  echo "bench: no JDK 21 or newer found (looked at JAVA_HOME and /usr/lib/jvm/*)." >&2
  echo "Install one, for example: apt-get install openjdk-21-jdk-headless, or set JAVA_HOME." >&2
  exit 1
fi
java="$jdk/bin/java"

jar="$root/concurry-bench/target/benchmarks.jar"

# Builds the benchmarks jar when it is missing or older than the sources of any module given (core and
# bench always; the Redis and Hazelcast rows also run concurry-redis / concurry-hazelcast).
build_if_stale() {
  local sources=("$root/pom.xml" "$root/concurry-core/src/main" "$root/concurry-core/pom.xml"
                 "$root/concurry-bench/src/main" "$root/concurry-bench/pom.xml")
  local module
  for module in "$@"; do sources+=("$root/$module/src/main" "$root/$module/pom.xml"); done
  if [ ! -f "$jar" ] || [ -n "$(find "${sources[@]}" -newer "$jar" -print -quit)" ]; then
    echo "bench: building $jar ..." >&2
    mkdir -p "$here/results"
    (cd "$root" && ./mvnw -B -ntp -DskipTests -pl concurry-bench -am package >"$here/results/build.log" 2>&1) || {
      echo "bench: the build failed; see bench/results/build.log" >&2
      exit 1
    }
  fi
}

load() {
  echo "# load $1: $(uptime | sed 's/.*load average/load average/')"
}

# The lines every result file starts with: title, machine, JDK, load, the command that made it.
header() {
  echo "# $1, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "# machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)," \
       "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
  echo "# JDK: $("$java" -version 2>&1 | head -2 | tr '\n' ' ')"
  load "before the run"
  echo "# command: bench/run.sh $2"
}

# The results file of a run: bench/results/<name>-<UTC time> (.txt for the output, .json beside it).
results() {
  mkdir -p "$here/results"
  echo "$here/results/$1-$(date -u +%Y%m%dT%H%M%SZ)"
}

mode="${1:-quick}"
[ $# -gt 0 ] && shift
case "$mode" in
  quick|full)
    build_if_stale
    out="$(results "$mode")"
    {
      header "concurry benchmarks, profile $mode" "$mode"
      "$java" -cp "$jar" dev.concurry.bench.Report "$mode" "$out.json"
      load "after the run"
    } 2>&1 | tee "$out.txt"
    echo "bench: results in ${out#$root/}.txt and .json" >&2
    ;;
  redis)
    build_if_stale concurry-redis
    profile="${1:-quick}"
    out="$(results "redis-$profile")"
    {
      header "concurry N4 (Redis) benchmarks, profile $profile" "redis $profile"
      echo "# redis-server: $(redis-server --version 2>/dev/null || echo 'not on the PATH')"
      "$java" -cp "$jar" dev.concurry.bench.RedisReport "$profile" "$out"
      load "after the JMH runs"
      "$java" -cp "$jar" dev.concurry.bench.RedisServerTime
      load "after the run"
    } 2>&1 | tee "$out.txt"
    echo "bench: results in ${out#$root/}.txt and -*.json" >&2
    ;;
  keyed)
    build_if_stale
    out="$(results keyed)"
    {
      header "concurry keyed benchmarks (issue 21)" keyed
      "$java" -jar "$jar" 'KeyedBench' -f 1 -wi 3 -w 2s -i 5 -r 2s -prof gc -rf json -rff "$out.json"
      load "after the JMH run"
      "$java" -XX:+UseSerialGC -Xmx4g -cp "$jar" dev.concurry.bench.KeyedFootprint 100000
      load "after the run"
    } 2>&1 | tee "$out.txt"
    echo "bench: results in ${out#$root/}.txt and .json" >&2
    ;;
  hazelcast)
    build_if_stale concurry-hazelcast
    out="$(results hazelcast)"
    {
      header "concurry N4b (Hazelcast) benchmarks" hazelcast
      "$java" -cp "$jar" dev.concurry.bench.HazelcastReport "$out"
      load "after the run"
    } 2>&1 | tee "$out.txt"
    echo "bench: results in ${out#$root/}.txt and .json" >&2
    ;;
  accuracy)
    build_if_stale
    exec "$java" -cp "$jar" dev.concurry.bench.Accuracy "$@"
    ;;
  jmh)
    build_if_stale
    exec "$java" -jar "$jar" "$@"
    ;;
  *)
    echo "usage: bench/run.sh [quick|full|redis [quick|throughput]|hazelcast|keyed|accuracy [seconds] [threads]|jmh [JMH options...]]" >&2
    exit 2
    ;;
esac
