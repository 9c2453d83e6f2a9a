#!/usr/bin/env bash
# SIGKILLs the real server at random moments during training (half of them inside a checkpoint write, widened by
# WebLlm:Testing:CheckpointFileDelayMs=150), restarts it and checks: PRAGMA integrity_check = ok, the run is
# Interrupted, resumable from its newest complete checkpoint, one metric row per step, no temp folders.
# Bounded: each iteration waits at most ~2.5 s before the kill; 20 iterations take about 4 minutes on 2 cores.
# Usage: bench/fault-injection.sh [iterations=20] [report=bench/results/fault-injection.md]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations="${1:-20}"
report="${2:-bench/results/fault-injection.md}"
mkdir -p "$(dirname "$report")"
WEBLLM_FAULT_ITERATIONS="$iterations" WEBLLM_FAULT_REPORT="$(realpath -m "$report")" \
  timeout 1200 dotnet test tests/WebLlm.Server.Tests --filter "FullyQualifiedName~ProcessTests.Sigkill" --logger "console;verbosity=minimal"
cat "$report"
