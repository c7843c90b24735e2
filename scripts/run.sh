#!/usr/bin/env bash
# Runs the whole service: the Aspire AppHost with its default, embedded topology (DCP, Aspire's dashboard on
# http://localhost:18888, Wave on http://localhost:9090; needs nothing but the .NET SDK). Ctrl+C stops all of it.
# Arguments go to dotnet run: --launch-profile distributed for the distributed topology, or AppHost settings after
# --, e.g. bash scripts/run.sh -- --Wave:Port=19090.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec dotnet run --project Wave.AppHost "$@"
