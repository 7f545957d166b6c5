#!/usr/bin/env bash
# Long runs (issue 17): a hybrid conversation on stories260K samples TOKENS tokens (default 100,000) through the CLI's
# chat and through the LangChain4j chat model, for configs/calibration-free.yaml and the calibrated configs/hybrid.yaml,
# printing heap used after a full GC and the state bytes every 10k tokens (integration-tests LongRunIT, tagged slow).
# Rows also go to local/long-run/long-run.csv. About 3 minutes per run on 2 shared cores.
#
#   scripts/long-run.sh [TOKENS, default 100000] [TEST, default all four: e.g. 'LongRunIT#cliChatCalibrated']
#
# LONGRUN_TURN (default 10000): tokens per turn, which is also how often a row is printed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bin/lib/jdk.sh"
find_jdk
export JAVA_HOME=$DIJIANG_JAVA_HOME PATH=$DIJIANG_JAVA_HOME/bin:$PATH
tokens=${1:-100000}
test=${2:-LongRunIT}
mkdir -p "$root/local/long-run"
echo "long-run.sh: $tokens tokens, $test (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
cd "$root"
status=0
mvn -B -ntp -q -pl integration-tests -am verify -Dspotless.check.skip=true -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
  -Dit.test="$test" -Dfailsafe.failIfNoSpecifiedTests=false -Dsurefire.excludedGroups=gpu \
  -Dlongrun.tokens="$tokens" -Dlongrun.turn="${LONGRUN_TURN:-10000}" -Dlongrun.csv="$root/local/long-run/long-run.csv" || status=$?
grep -h "^long run" integration-tests/target/failsafe-reports/io.dijiang4j.it.LongRunIT-output.txt 2>/dev/null || true
echo "long-run.sh: exit $status (load average after: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
exit "$status"
