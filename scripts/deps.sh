#!/usr/bin/env bash
# Installs the real programs the tests talk to, when they are missing:
# Alertmanager and amtool (Debian's prometheus-alertmanager), promtool
# (Debian's prometheus), wrk, PostgreSQL's server binaries (Debian's
# postgresql; the tests start their own server with initdb on a free
# loopback port, never a running one), headless Chromium for the browser
# tests (Debian's chromium), and helm (built from the Go module proxy into
# $(go env GOPATH)/bin). Needs root (or sudo) for apt-get.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.16.4}"

apt_pkgs=()
command -v prometheus-alertmanager >/dev/null 2>&1 || apt_pkgs+=(prometheus-alertmanager)
command -v promtool >/dev/null 2>&1 || apt_pkgs+=(prometheus)
command -v wrk >/dev/null 2>&1 || apt_pkgs+=(wrk)
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
{ [ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ]; } || apt_pkgs+=(postgresql)
command -v chromium >/dev/null 2>&1 || apt_pkgs+=(chromium)
# A CJK font, so the browser test's screenshots show the Chinese card text.
fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || apt_pkgs+=(fonts-wqy-microhei)

if [ ${#apt_pkgs[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "deps: cannot install ${apt_pkgs[*]} without root; install them and run again" >&2
      exit 1
    fi
  fi
  echo "deps: installing ${apt_pkgs[*]}" >&2
  $sudo apt-get update -qq >/dev/null
  # The packages would start services on a normal Debian host; tests start
  # their own on loopback, so keep the packaged ones from starting.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
  for svc in prometheus prometheus-alertmanager prometheus-node-exporter postgresql; do
    $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
  done
  # Debian's postgresql may have created and started a "main" cluster.
  if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
      $sudo pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
    done
  fi
fi

gobin="$(go env GOPATH)/bin"
if ! command -v helm >/dev/null 2>&1 && [ ! -x "$gobin/helm" ]; then
  echo "deps: building helm ${HELM_VERSION} (go install; takes a few minutes once)" >&2
  (cd /tmp && GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}")
fi
