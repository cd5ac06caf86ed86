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
if [ ! -f "$jar" ] || [ -n "$(find "$root/concurry-core/src/main" "$root/concurry-bench/src/main" \
      "$root/pom.xml" "$root/concurry-core/pom.xml" "$root/concurry-bench/pom.xml" -newer "$jar" -print -quit)" ]; then
  echo "bench: building $jar ..." >&2
  mkdir -p "$here/results"
  (cd "$root" && ./mvnw -B -ntp -DskipTests -pl concurry-bench -am package >"$here/results/build.log" 2>&1) || {
    echo "bench: the build failed; see bench/results/build.log" >&2
    exit 1
  }
fi

mode="${1:-quick}"
[ $# -gt 0 ] && shift
case "$mode" in
  quick|full)
    mkdir -p "$here/results"
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    out="$here/results/$mode-$stamp"
    {
      echo "# concurry benchmarks, profile $mode, $(date -u '+%Y-%m-%d %H:%M UTC')"
      echo "# machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)," \
           "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
      echo "# JDK: $("$java" -version 2>&1 | head -2 | tr '\n' ' ')"
      echo "# load before the run: $(uptime | sed 's/.*load average/load average/')"
      echo "# command: bench/run.sh $mode"
      "$java" -cp "$jar" dev.concurry.bench.Report "$mode" "$out.json"
      echo "# load after the run: $(uptime | sed 's/.*load average/load average/')"
    } 2>&1 | tee "$out.txt"
    echo "bench: results in ${out#$root/}.txt and .json" >&2
    ;;
  redis)
    mkdir -p "$here/results"
    # The N4 benchmarks also run concurry-redis: rebuild when it changed (the check above does not look).
    if [ -n "$(find "$root/concurry-redis/src/main" "$root/concurry-redis/pom.xml" -newer "$jar" -print -quit)" ]; then
      echo "bench: rebuilding $jar (concurry-redis changed) ..." >&2
      (cd "$root" && ./mvnw -B -ntp -DskipTests -pl concurry-bench -am package >"$here/results/build.log" 2>&1) || {
        echo "bench: the build failed; see bench/results/build.log" >&2
        exit 1
      }
    fi
    profile="${1:-quick}"
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    out="$here/results/redis-$profile-$stamp"
    {
      echo "# concurry N4 (Redis) benchmarks, profile $profile, $(date -u '+%Y-%m-%d %H:%M UTC')"
      echo "# machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
      echo "# JDK: $("$java" -version 2>&1 | head -2 | tr '\n' ' ')"
      echo "# redis-server: $(redis-server --version 2>/dev/null || echo 'not on the PATH')"
      echo "# load before the run: $(uptime | sed 's/.*load average/load average/')"
      echo "# command: bench/run.sh redis $profile"
      "$java" -cp "$jar" dev.concurry.bench.RedisReport "$profile" "$out"
      echo "# load after the JMH runs: $(uptime | sed 's/.*load average/load average/')"
      "$java" -cp "$jar" dev.concurry.bench.RedisServerTime
      echo "# load after the run: $(uptime | sed 's/.*load average/load average/')"
    } 2>&1 | tee "$out.txt"
    echo "bench: results in ${out#$root/}.txt and -*.json" >&2
    ;;
  keyed)
    mkdir -p "$here/results"
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    out="$here/results/keyed-$stamp"
    {
      echo "# concurry keyed benchmarks (issue 21), $(date -u '+%Y-%m-%d %H:%M UTC')"
      echo "# machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
      echo "# JDK: $("$java" -version 2>&1 | head -2 | tr '\n' ' ')"
      echo "# load before the run: $(uptime | sed 's/.*load average/load average/')"
      echo "# command: bench/run.sh keyed"
      "$java" -jar "$jar" 'KeyedBench' -f 1 -wi 3 -w 2s -i 5 -r 2s -prof gc -rf json -rff "$out.json"
      echo "# load after the JMH run: $(uptime | sed 's/.*load average/load average/')"
      "$java" -XX:+UseSerialGC -Xmx4g -cp "$jar" dev.concurry.bench.KeyedFootprint 100000
      echo "# load after the run: $(uptime | sed 's/.*load average/load average/')"
    } 2>&1 | tee "$out.txt"
    echo "bench: results in ${out#$root/}.txt and .json" >&2
    ;;
  hazelcast)
    mkdir -p "$here/results"
    # The N4b benchmarks also run concurry-hazelcast: rebuild when it changed (the check above does not look).
    if [ -n "$(find "$root/concurry-hazelcast/src/main" "$root/concurry-hazelcast/pom.xml" -newer "$jar" -print -quit)" ]; then
      echo "bench: rebuilding $jar (concurry-hazelcast changed) ..." >&2
      (cd "$root" && ./mvnw -B -ntp -DskipTests -pl concurry-bench -am package >"$here/results/build.log" 2>&1) || {
        echo "bench: the build failed; see bench/results/build.log" >&2
        exit 1
      }
    fi
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    out="$here/results/hazelcast-$stamp"
    {
      echo "# concurry N4b (Hazelcast) benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
      echo "# machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
      echo "# JDK: $("$java" -version 2>&1 | head -2 | tr '\n' ' ')"
      echo "# load before the run: $(uptime | sed 's/.*load average/load average/')"
      echo "# command: bench/run.sh hazelcast"
      "$java" -cp "$jar" dev.concurry.bench.HazelcastReport "$out"
      echo "# load after the run: $(uptime | sed 's/.*load average/load average/')"
    } 2>&1 | tee "$out.txt"
    echo "bench: results in ${out#$root/}.txt and .json" >&2
    ;;
  accuracy)
    exec "$java" -cp "$jar" dev.concurry.bench.Accuracy "$@"
    ;;
  jmh)
    exec "$java" -jar "$jar" "$@"
    ;;
  *)
    echo "usage: bench/run.sh [quick|full|redis [quick|throughput]|hazelcast|keyed|accuracy [seconds] [threads]|jmh [JMH options...]]" >&2
    exit 2
    ;;
esac
