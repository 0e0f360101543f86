#!/usr/bin/env bash
# Builds the local cluster's binaries from their Go modules, once, into a cache
# outside the repository keyed by version:
#   ${MODELSCALER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelscaler}/bin/<component>-<version>/
# A second run finds every binary in place and does nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache=${MODELSCALER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modelscaler}
src="$cache/src"
mkdir -p "$cache/bin" "$src"
# Go from its usual install location when a non-login shell (CI, make) lacks it on PATH.
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || { echo "build-binaries.sh needs Go on PATH" >&2; exit 1; }
export GOFLAGS="-mod=mod -buildvcs=false -trimpath"
export CGO_ENABLED=0
start_all=$(date +%s)

log() { printf '[build %4ss] %s\n' "$(( $(date +%s) - start_all ))" "$*" >&2; }

# run_build NAME OUTDIR CMD...: runs CMD unless OUTDIR/.done exists; prints
# progress every 30 s so a long first build is visibly alive.
run_build() {
  local name=$1 out=$2; shift 2
  if [[ -f "$out/.done" ]]; then log "$name: cached in $out"; return 0; fi
  log "$name: building (first time only; this can take several minutes)"
  local t0; t0=$(date +%s)
  mkdir -p "$out"
  ( while sleep 30; do log "$name: still building, $(( $(date +%s) - t0 ))s elapsed"; done ) &
  local ticker=$!
  if ! "$@"; then kill "$ticker" 2>/dev/null; log "$name: FAILED"; return 1; fi
  kill "$ticker" 2>/dev/null || true
  touch "$out/.done"
  log "$name: built in $(( $(date +%s) - t0 ))s"
}

# A scratch module per component: `go build` of a main package from another
# module needs a main module that requires it.
scratch() {
  local dir=$1; shift
  mkdir -p "$dir"
  if [[ ! -f "$dir/go.mod" ]]; then
    (cd "$dir" && go mod init "modelscaler.local/build" >/dev/null 2>&1)
  fi
}

build_kubernetes() {
  local v=$KUBERNETES_VERSION dir="$src/kubernetes-$KUBERNETES_VERSION" out=$1
  scratch "$dir"
  cd "$dir"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them
  # with ./staging paths that do not exist outside its repository: replace
  # each one with its published v0.<minor>.<patch> instead.
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  local staging_v="v0.${v#v1.}"
  go mod edit -require="k8s.io/kubernetes@$v"
  grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" | awk '{print $1}' |
    while read -r m; do go mod edit -replace="$m=$m@$staging_v"; done
  local minor=${v#v1.}; minor=${minor%%.*}
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  go build -ldflags "$ld" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
  local dir="$src/etcd-$ETCD_VERSION" out=$1
  scratch "$dir"; cd "$dir"
  go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  # etcd's server module is the etcd binary's main package since v3.5.
  go build -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
}

build_kwok() {
  local dir="$src/kwok-$KWOK_VERSION" out=$1
  scratch "$dir"; cd "$dir"
  go mod edit -require="sigs.k8s.io/kwok@$KWOK_VERSION"
  go build -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" -o "$out/" \
    sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
}

build_helm() {
  local dir="$src/helm-$HELM_VERSION" out=$1
  scratch "$dir"; cd "$dir"
  go mod edit -require="helm.sh/helm/v3@$HELM_VERSION"
  go build -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" -o "$out/helm" helm.sh/helm/v3/cmd/helm
}

want=${*:-kubernetes etcd kwok helm}
for c in $want; do
  case $c in
    kubernetes) run_build kubernetes "$cache/bin/kubernetes-$KUBERNETES_VERSION" build_kubernetes "$cache/bin/kubernetes-$KUBERNETES_VERSION" ;;
    etcd) run_build etcd "$cache/bin/etcd-$ETCD_VERSION" build_etcd "$cache/bin/etcd-$ETCD_VERSION" ;;
    kwok) run_build kwok "$cache/bin/kwok-$KWOK_VERSION" build_kwok "$cache/bin/kwok-$KWOK_VERSION" ;;
    helm) run_build helm "$cache/bin/helm-$HELM_VERSION" build_helm "$cache/bin/helm-$HELM_VERSION" ;;
    *) echo "unknown component: $c" >&2; exit 2 ;;
  esac
done
log "all binaries ready under $cache/bin"
