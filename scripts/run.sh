#!/usr/bin/env bash
# Runs the whole service (embedded defaults: needs nothing but .NET). Arguments go to the AppHost.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec dotnet run --project Wave.AppHost "$@"
