#!/usr/bin/env bash
# The long run of the CLI fuzz suite (tools CliFuzzTest; bin/test runs it for 4 s per category with seed 1): every
# category (mutated profiles, damaged model files, sidecars and snapshots, random prompts, extreme option values)
# for SECONDS each, from SEED. A failure names the seed, the case and its mutation; rerun with that seed to replay.
#
#   scripts/fuzz.sh [SECONDS per category, default 60] [SEED, default: the current time]
#
# Runs in process (no JVM per case) through Maven's reactor, offline when the dependencies are resolved.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bin/lib/jdk.sh"
find_jdk
export JAVA_HOME=$DIJIANG_JAVA_HOME PATH=$DIJIANG_JAVA_HOME/bin:$PATH
seconds=${1:-60}
seed=${2:-$(date +%s)}
echo "fuzz.sh: $seconds s per category, seed $seed (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
cd "$root"
status=0
mvn -B -ntp -q -pl tools -am verify -Dspotless.check.skip=true -Dtest=CliFuzzTest \
  -Dsurefire.failIfNoSpecifiedTests=false -Dfuzz.seconds="$seconds" -Dfuzz.seed="$seed" || status=$?
report=tools/target/surefire-reports
grep -ah "fuzz [a-z ]*: [0-9]* cases.*" "$report/io.dijiang4j.tools.cli.CliFuzzTest-output.txt" 2>/dev/null || true
if [ "$status" -ne 0 ]; then
  echo "fuzz.sh: FAILED (seed $seed); details in $report/io.dijiang4j.tools.cli.CliFuzzTest.txt" >&2
  sed -n '1,40p' "$report/io.dijiang4j.tools.cli.CliFuzzTest.txt" >&2 || true
fi
exit "$status"
