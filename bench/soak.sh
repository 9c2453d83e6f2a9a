#!/usr/bin/env bash
# Soak: the real server trains a run at full speed while READERS clients poll metrics and runs, a client uploads a
# dataset every few seconds and one asks for generations; every SAMPLE seconds it reports resident memory, open
# handles, WAL size and row counts. Bounded by DURATION seconds. Needs curl, jq, sqlite3 and a built server.
# Usage: bench/soak.sh [duration=120] [readers=50]   (prints a Markdown table; failures other than 429 are counted)
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-120}"; readers="${2:-50}"; sample=10
dll=src/WebLlm.Server/bin/Debug/net10.0/WebLlm.Server.dll
[ -f "$dll" ] || dotnet build src/WebLlm.Server -v q >/dev/null
data="$(mktemp -d /tmp/webllm-soak-XXXX)"; log="$data/server.log"; fails="$data/fails"; : > "$fails"
port=$((20000 + RANDOM % 20000)); base="http://127.0.0.1:$port"
dotnet "$dll" --urls "$base" --WebLlm:DataDirectory="$data" --WebLlm:BuiltinMaxDocuments=3000 --WebLlm:PeakFlops=180e9 \
  --WebLlm:RateLimit:Burst=1000 --WebLlm:RateLimit:PerSecond=1000 >"$log" 2>&1 &
pid=$!
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
until curl -sf "$base/health" >/dev/null; do sleep 0.2; done
until [ "$(curl -s "$base/api/datasets" | jq -r '.[0].status')" = Ready ]; do sleep 0.2; done
run=$(curl -sf -H 'Content-Type: application/json' -d '{"preset":"tiny","maxSteps":1000000,"batchSize":8,"blockSize":64,"checkpointEvery":100,"evalEvery":100,"sampleEvery":0}' "$base/api/runs" | jq .id)
end=$((SECONDS + duration))
check() { code=$(curl -s -o /dev/null -w '%{http_code}' "$@"); case "$code" in 2*|429|503) ;; *) echo "$code $*" >>"$fails";; esac; }
for i in $(seq "$readers"); do
  ( while [ $SECONDS -lt $end ]; do check "$base/api/runs/$run/metrics?maxPoints=500"; check "$base/api/runs/$run"; done ) &
done
( n=0; while [ $SECONDS -lt $end ]; do n=$((n+1)); head -c 20000 /dev/urandom | base64 > "$data/u$n.txt"
    check -H 'X-WebLlm-Request: 1' -F "files=@$data/u$n.txt" -F name=soak$n "$base/api/datasets"; sleep 3; done ) &
( while [ $SECONDS -lt $end ]; do check -H 'Content-Type: application/json' -d '{"prompt":"The","maxTokens":16}' "$base/api/runs/$run/generate"; sleep 1; done ) &
echo "| t (s) | step | RSS (MiB) | handles | WAL (MiB) | step rows | datasets | failed requests |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
start=$SECONDS
while [ $SECONDS -lt $end ]; do
  sleep "$sample"
  rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$pid/status); fds=$(ls /proc/$pid/fd | wc -l)
  wal=$(stat -c %s "$data/webllm.db-wal" 2>/dev/null || echo 0)
  rows=$(sqlite3 -readonly "$data/webllm.db" "select count(*) from StepMetrics" 2>/dev/null || echo '?')
  sets=$(sqlite3 -readonly "$data/webllm.db" "select count(*) from Datasets" 2>/dev/null || echo '?')
  step=$(curl -s "$base/api/runs/$run" | jq .currentStep)
  echo "| $((SECONDS - start)) | $step | $rss | $fds | $(awk "BEGIN {printf \"%.1f\", $wal/1048576}") | $rows | $sets | $(wc -l < "$fails") |"
done
wait $(jobs -p | grep -v "^$pid\$") 2>/dev/null || true
dup=$(sqlite3 -readonly "$data/webllm.db" "select count(*) - count(distinct Step) from StepMetrics where RunId=$run")
echo; echo "database is locked in log: $(grep -c 'database is locked' "$log" || true); duplicate steps: $dup; failed requests (not 2xx/429/503): $(wc -l < "$fails")"
sort "$fails" | uniq -c | sort -rn | head -5
