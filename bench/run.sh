#!/usr/bin/env bash
# Benchmarks Wave against the distribution registry serving the same images directly (see README "Performance").
# Builds Release, starts a registry, Wave (dotnet Wave.AppHost.dll) and a private dockerd on loopback, prints the
# table and writes it to bench/results/latest.md. Extra arguments go to Wave.Bench, e.g. --tokens 100000,
# --duration 10, --concurrent-pulls 1000, --pulls 15 (docker pull rounds), --no-docker, --only build,services.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for tool in docker-registry:docker-registry wrk:wrk socat:socat dockerd:docker.io buildah:buildah busybox:busybox-static redis-server:redis-server; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get install -y "${missing[@]}"
fi
dotnet build -c Release -v q --nologo Wave.AppHost/Wave.AppHost.csproj
dotnet build -c Release -v q --nologo bench/Wave.Bench/Wave.Bench.csproj
exec dotnet bench/Wave.Bench/bin/Release/net10.0/Wave.Bench.dll Wave.AppHost/bin/Release/net10.0/Wave.AppHost.dll "$@"
