#!/usr/bin/env bash
# Install (or upgrade, or uninstall) a bluezone-audit scanner node on Raspberry Pi OS bookworm.
#
#   sudo deploy/pi/install.sh [--node ID --site ID] [--broker URL] [--ca-file FILE]
#        [--mode active|passive] [--secrets-stdin] [--source CHECKOUT|WHEEL]
#   sudo deploy/pi/install.sh --uninstall          # leaves /etc/bluezone-audit and the outbox
#
# --secrets-stdin reads `BZAUDIT_PASSWORD=...` and `BZAUDIT_HMAC_KEY=...` lines, as printed by
# `bzagg nodes add` (secrets never go on a command line). Testing: --destdir DIR (or DESTDIR=)
# installs under DIR, --prefix moves the virtualenv, --skip-pip leaves the virtualenv out.
# Safe to run again: an unchanged node is left exactly as it was. See docs/deployment.md.
set -euo pipefail
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

USER_NAME=bzscan
NODE="" SITE="" BROKER="" CA_FILE="" MODE="" SECRETS=0
usage() { sed -n '2,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --node) NODE=$2; shift ;;
    --site) SITE=$2; shift ;;
    --broker) BROKER=$2; shift ;;
    --ca-file) CA_FILE=$2; shift ;;
    --mode) MODE=$2; shift ;;
    --secrets-stdin) SECRETS=1 ;;
    --skip-pip) SKIP_PIP=1 ;;
    --uninstall) UNINSTALL=1 ;;
    -h | --help) usage 0 ;;
    *)
      if [ $# -ge 2 ] && parse_common "$1" "$2"; then shift; else say "unknown option $1"; usage 2; fi
      ;;
  esac
  shift
done
case "$MODE" in "" | active | passive) ;; *) die "--mode must be active or passive" ;; esac
[ -z "$NODE" ] || [ -n "$SITE" ] || die "--node needs --site"
[ -z "$CA_FILE" ] || [ -f "$CA_FILE" ] || die "--ca-file $CA_FILE: no such file"

UNIT=$UNIT_DIR/bzscan.service
DROPIN=$UNIT_DIR/bluetooth.service.d/bluezone-audit-experimental.conf
DOC=$PREFIX/share/bluezone-audit/deployment.md

if [ "$UNINSTALL" = 1 ]; then
  if systemd_live; then systemctl disable --now bzscan.service 2>/dev/null || true; fi
  remove_paths "$UNIT" "$UNIT_DIR/multi-user.target.wants/bzscan.service" "$DROPIN" "$PREFIX" \
    /usr/local/bin/bzscan
  rmdir "$(root "$UNIT_DIR/bluetooth.service.d")" 2>/dev/null || true
  if systemd_live; then systemctl daemon-reload; systemctl try-restart bluetooth.service; fi
  say "uninstalled; kept $CONF_DIR (config, credentials) and $STATE_DIR (outbox)"
  exit 0
fi

check_source
apt_need python3-venv bluez
prepare_root
ensure_user "$USER_NAME" "$STATE_DIR" bluetooth

make_venv scanner
put_link bzscan
put_file "$REPO/docs/deployment.md" "$DOC" 0644 root:root

ensure_dir "$CONF_DIR" 0755 root:root
ensure_dir "$STATE_DIR" 0750 "$USER_NAME:$USER_NAME"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# scanner.yaml: generated from the options, or the commented template; never overwritten. On an
# upgrade, what the options leave out comes from the current file, so only a change in the
# shipped template produces a scanner.yaml.new.
current=$(root "$CONF_DIR/scanner.yaml")
old() { if [ -f "$current" ]; then sed -n "s/^$1: //p" "$current" | head -n 1; fi; }
NODE=${NODE:-$(old node)}
SITE=${SITE:-$(old site)}
MODE=${MODE:-$(old mode)}
MODE=${MODE:-active}
BROKER=${BROKER:-$(old broker)}
has_ca=0 has_key=0
if [ -n "$CA_FILE" ] || [ -n "$(old ca-file)" ]; then has_ca=1; fi
if [ "$SECRETS" = 1 ] || [ -n "$(old hmac-key-file)" ]; then has_key=1; fi
{
  sed -n '1,/^# --- node ---/p' "$REPO/deploy/pi/scanner.yaml"
  if [ -n "$NODE" ]; then
    printf 'node: %s\nsite: %s\n' "$NODE" "$SITE"
  else
    printf '# node: pi-07          # set these two (bzagg nodes add prints them), then\n'
    printf '# site: ptc-market-01  # systemctl enable --now bzscan\n'
  fi
  printf 'mode: %s\n' "$MODE"
  if [ -n "$BROKER" ]; then
    printf 'broker: %s\nusername: %s\n' "$BROKER" "${NODE:-CHANGE-ME}"
  fi
  [ "$has_ca" = 0 ] || printf 'ca-file: %s/ca.crt\n' "$CONF_DIR"
  [ "$has_key" = 0 ] || printf 'hmac-key-file: %s/node.key\n' "$CONF_DIR"
  printf 'outbox: %s/outbox.sqlite3\n' "$STATE_DIR"
  sed -n '/^# --- node ---/,$p' "$REPO/deploy/pi/scanner.yaml" | tail -n +2
} >"$tmp/scanner.yaml"
put_config "$tmp/scanner.yaml" "$CONF_DIR/scanner.yaml" 0640 "root:$USER_NAME"
[ -z "$CA_FILE" ] || put_file "$CA_FILE" "$CONF_DIR/ca.crt" 0644 root:root

if [ "$SECRETS" = 1 ]; then
  password="" key=""
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      BZAUDIT_PASSWORD=*) password=${line#BZAUDIT_PASSWORD=} ;;
      BZAUDIT_HMAC_KEY=*) key=${line#BZAUDIT_HMAC_KEY=} ;;
      '' | '#'*) ;;
      *) die "--secrets-stdin: unexpected line (want BZAUDIT_PASSWORD= and BZAUDIT_HMAC_KEY=)" ;;
    esac
  done
  [ -n "$password" ] || die "--secrets-stdin: no BZAUDIT_PASSWORD= line"
  printf 'BZAUDIT_PASSWORD=%s\n' "$password" >"$tmp/credentials"
  put_file "$tmp/credentials" "$CONF_DIR/credentials" 0600 root:root
  if [ -n "$key" ]; then
    printf '%s\n' "$key" >"$tmp/node.key"
    put_file "$tmp/node.key" "$CONF_DIR/node.key" 0640 "root:$USER_NAME"
  fi
fi

put_unit "$REPO/deploy/pi/bzscan.service" "$UNIT"
put_file "$REPO/deploy/bluetooth/experimental.conf" "$DROPIN" 0644 root:root
if [ -n "$DESTDIR" ]; then
  # Offline enable: only the [Install] symlink, exactly what `systemctl enable` would make.
  want=$(root "$UNIT_DIR/multi-user.target.wants/bzscan.service")
  if [ "$(readlink "$want" 2>/dev/null)" != "$UNIT" ]; then
    mkdir -p "$(dirname "$want")"
    ln -sfn "$UNIT" "$want"
    CHANGED=1
  fi
elif systemd_live; then
  systemctl daemon-reload
  systemctl enable bzscan.service
  # Time: an RTC-less Pi boots with the last saved time until NTP answers.
  timedatectl set-ntp true 2>/dev/null || say "timedatectl set-ntp true failed: see docs/deployment.md (Time)"
  if [ "$CHANGED" = 1 ]; then
    systemctl restart bluetooth.service
    if grep -q '^node:' "$CONF_DIR/scanner.yaml"; then systemctl restart bzscan.service; fi
  fi
fi

if [ "$CHANGED" = 1 ]; then say "bzscan installed under ${DESTDIR}$PREFIX"; else say "nothing to change"; fi
if ! grep -q '^node:' "$(root "$CONF_DIR/scanner.yaml")"; then
  say "next: set node and site in $CONF_DIR/scanner.yaml, then: systemctl enable --now bzscan"
fi
