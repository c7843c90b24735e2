#!/usr/bin/env bash
# Benchmarks Wave against the distribution registry serving the same images directly (see README "Performance").
# Builds Release, starts a registry, Wave as the AppHost's embedded topology runs it but without the AppHost
# (dotnet Wave.Api.dll --Wave:Embedded=true) and a private dockerd on loopback, prints the table and writes it to
# bench/results/latest.md. Extra arguments go to Wave.Bench, e.g. --tokens 100000, --duration 10,
# --concurrent-pulls 1000, --pulls 15 (docker pull rounds), --no-docker, --only build,services.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for tool in docker-registry:docker-registry wrk:wrk socat:socat dockerd:docker.io buildah:buildah busybox:busybox-static redis-server:redis-server; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get install -y "${missing[@]}"
fi
# Wave.Api's output holds the registry proxy and the builder too (it composes them when embedded): the distributed
# sections start all three services from that folder.
dotnet build -c Release -v q --nologo Wave.Api/Wave.Api.csproj
dotnet build -c Release -v q --nologo bench/Wave.Bench/Wave.Bench.csproj
exec dotnet bench/Wave.Bench/bin/Release/net10.0/Wave.Bench.dll Wave.Api/bin/Release/net10.0/Wave.Api.dll "$@"
