#!/usr/bin/env bash
# Soak: the real server trains a run at full speed while READERS clients poll metrics and runs, a client uploads a
# dataset every few seconds and one asks for generations; every SAMPLE seconds it reports resident memory, open
# handles, WAL size and row counts. Bounded by DURATION seconds. Needs curl, jq, sqlite3 and a built server.
# Usage: bench/soak.sh [duration=120] [readers=50] [limits=on|off]   (prints a Markdown table; failures other than 429
# are counted). Readers honour 429's Retry-After as the UI does. limits=off lifts the read limits (the state before they
# existed) for a before/after comparison. Run it under `flock /tmp/webllm-bench.lock` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-120}"; readers="${2:-50}"; limits="${3:-on}"; sample=10
dll=src/WebLlm.Server/bin/Debug/net10.0/WebLlm.Server.dll
[ -f "$dll" ] || dotnet build src/WebLlm.Server -v q >/dev/null
data="$(mktemp -d /tmp/webllm-soak-XXXX)"; log="$data/server.log"; fails="$data/fails"; limited="$data/429"; : > "$fails"; : > "$limited"
reads=()
[ "$limits" = off ] && reads=(--WebLlm:RateLimit:ReadBurst=1000000 --WebLlm:RateLimit:ReadPerSecond=1000000 --WebLlm:RateLimit:MaxConcurrentReads=1000)
port=$((20000 + RANDOM % 20000)); base="http://127.0.0.1:$port"
dotnet "$dll" --urls "$base" --WebLlm:DataDirectory="$data" --WebLlm:BuiltinMaxDocuments=3000 --WebLlm:PeakFlops=180e9 \
  --WebLlm:RateLimit:Burst=1000 --WebLlm:RateLimit:PerSecond=1000 "${reads[@]}" >"$log" 2>&1 &
pid=$!
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
until curl -sf "$base/health" >/dev/null; do sleep 0.2; done
until [ "$(curl -s "$base/api/datasets" | jq -r '.[0].status')" = Ready ]; do sleep 0.2; done
run=$(curl -sf -H 'Content-Type: application/json' -d '{"preset":"tiny","maxSteps":1000000,"batchSize":8,"blockSize":64,"checkpointEvery":100,"evalEvery":100,"sampleEvery":0}' "$base/api/runs" | jq .id)
end=$((SECONDS + duration))
check() {
  read -r code retry < <(curl -s -o /dev/null -w '%{http_code} %header{retry-after}\n' "$@")
  case "$code" in 2*|503) ;; 429) echo 1 >>"$limited"; sleep "${retry:-1}";; *) echo "$code $*" >>"$fails";; esac
}
for i in $(seq "$readers"); do
  ( while [ $SECONDS -lt $end ]; do check "$base/api/runs/$run/metrics?maxPoints=500"; check "$base/api/runs/$run"; done ) &
done
( n=0; while [ $SECONDS -lt $end ]; do n=$((n+1)); head -c 20000 /dev/urandom | base64 > "$data/u$n.txt"
    check -H 'X-WebLlm-Request: 1' -F "files=@$data/u$n.txt" -F name=soak$n "$base/api/datasets"; sleep 3; done ) &
( while [ $SECONDS -lt $end ]; do check -H 'Content-Type: application/json' -d '{"prompt":"The","maxTokens":16}' "$base/api/runs/$run/generate"; sleep 1; done ) &
echo "| t (s) | step | steps/s | RSS (MiB) | handles | WAL (MiB) | step rows | datasets | 429s | failed requests |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
last_step=0; last_t=0
start=$SECONDS
while [ $SECONDS -lt $end ]; do
  sleep "$sample"
  rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$pid/status); fds=$(ls /proc/$pid/fd | wc -l)
  wal=$(stat -c %s "$data/webllm.db-wal" 2>/dev/null || echo 0)
  rows=$(sqlite3 -readonly "$data/webllm.db" "select count(*) from StepMetrics" 2>/dev/null || echo '?')
  sets=$(sqlite3 -readonly "$data/webllm.db" "select count(*) from Datasets" 2>/dev/null || echo '?')
  step=$(sqlite3 -readonly "$data/webllm.db" "select CurrentStep from Runs where Id=$run" 2>/dev/null || echo 0)
  t=$((SECONDS - start))
  rate=$(awk "BEGIN {printf \"%.1f\", ($step - $last_step) / ($t - $last_t)}"); last_step=$step; last_t=$t
  echo "| $t | $step | $rate | $rss | $fds | $(awk "BEGIN {printf \"%.1f\", $wal/1048576}") | $rows | $sets | $(wc -l < "$limited") | $(wc -l < "$fails") |"
done
wait $(jobs -p | grep -v "^$pid\$") 2>/dev/null || true
dup=$(sqlite3 -readonly "$data/webllm.db" "select count(*) - count(distinct Step) from StepMetrics where RunId=$run")
echo; echo "limits $limits, $readers readers: $(awk "BEGIN {printf \"%.1f\", $step / $t}") steps/s overall; 429s: $(wc -l < "$limited"); database is locked in log: $(grep -c 'database is locked' "$log" || true); duplicate steps: $dup; failed requests (not 2xx/429/503): $(wc -l < "$fails")"
sort "$fails" | uniq -c | sort -rn | head -5
