#!/usr/bin/env bash
# Install (or upgrade, or uninstall) the bluezone-audit aggregator and its Mosquitto broker on a
# Debian 12 server.
#
#   sudo deploy/server/install.sh [--tls-dir DIR] [--source CHECKOUT|WHEEL]
#   sudo deploy/server/install.sh --uninstall   # leaves /etc/bluezone-audit, the broker's
#                                               # files in /etc/mosquitto and the store
#
# --tls-dir DIR holds ca.crt, server.crt and server.key for the broker (docs/deployment.md).
# Testing: --destdir DIR (or DESTDIR=) installs under DIR, --prefix moves the virtualenv,
# --skip-pip leaves the virtualenv out. Safe to run again: nothing changes the second time.
set -euo pipefail
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

USER_NAME=bzagg
TLS_DIR=""
MQ=/etc/mosquitto
usage() { sed -n '2,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --tls-dir) TLS_DIR=$2; shift ;;
    --skip-pip) SKIP_PIP=1 ;;
    --uninstall) UNINSTALL=1 ;;
    -h | --help) usage 0 ;;
    *)
      if [ $# -ge 2 ] && parse_common "$1" "$2"; then shift; else say "unknown option $1"; usage 2; fi
      ;;
  esac
  shift
done
if [ -n "$TLS_DIR" ]; then
  for f in ca.crt server.crt server.key; do
    [ -f "$TLS_DIR/$f" ] || die "--tls-dir $TLS_DIR: no $f"
  done
fi

UNIT=$UNIT_DIR/bzagg.service
DOC=$PREFIX/share/bluezone-audit/deployment.md

if [ "$UNINSTALL" = 1 ]; then
  if systemd_live; then systemctl disable --now bzagg.service 2>/dev/null || true; fi
  remove_paths "$UNIT" "$UNIT_DIR/multi-user.target.wants/bzagg.service" "$PREFIX" \
    /usr/local/bin/bzagg
  if systemd_live; then systemctl daemon-reload; fi
  say "uninstalled; kept $CONF_DIR, $MQ/conf.d/bzaudit.conf and the broker's files, $STATE_DIR (store)"
  exit 0
fi

check_source
apt_need python3-venv mosquitto openssl
command -v mosquitto_passwd >/dev/null || [ -x /usr/bin/mosquitto_passwd ] ||
  die "mosquitto_passwd not found (apt-get install mosquitto)"
prepare_root
ensure_user "$USER_NAME" "$STATE_DIR"
# Debian's mosquitto package makes this group; a DESTDIR root has to be given one.
ensure_group mosquitto

make_venv aggregator
put_link bzagg
put_file "$REPO/docs/deployment.md" "$DOC" 0644 root:root

ensure_dir "$CONF_DIR" 0755 root:root
ensure_dir "$STATE_DIR" 0750 "$USER_NAME:$USER_NAME"
put_config "$REPO/deploy/server/aggregator.yaml" "$CONF_DIR/aggregator.yaml" 0640 "root:$USER_NAME"

# The broker: config, ACL, password file (readable by mosquitto, which drops root first).
ensure_dir "$MQ/conf.d" 0755 root:root
put_config "$REPO/deploy/server/mosquitto.conf" "$MQ/conf.d/bzaudit.conf" 0644 root:root
put_config "$REPO/deploy/server/acl" "$MQ/bzaudit.acl" 0640 root:mosquitto
passwd=$(root "$MQ/bzaudit.passwd")
if [ ! -f "$passwd" ]; then
  : >"$passwd"
  CHANGED=1
fi
[ "$(stat -c %a "$passwd")" = 640 ] || { chmod 0640 "$passwd"; CHANGED=1; }
owner=$(ids root:mosquitto)
[ "$(stat -c %u:%g "$passwd")" = "$owner" ] || { chown "$owner" "$passwd"; CHANGED=1; }
if ! grep -q "^$USER_NAME:" "$passwd"; then
  # The aggregator's own broker account: a random password, given to bzagg's unit only.
  password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  # On stdin, not with -b: a password on a command line is visible to every local user.
  printf '%s\n%s\n' "$password" "$password" | mosquitto_passwd "$passwd" "$USER_NAME" >/dev/null
  creds=$(mktemp)
  printf 'BZAUDIT_SERVE_PASSWORD=%s\n' "$password" >"$creds"
  put_file "$creds" "$CONF_DIR/aggregator.credentials" 0600 root:root
  rm -f "$creds"
  CHANGED=1
fi
if [ -n "$TLS_DIR" ]; then
  ensure_dir "$MQ/certs" 0755 root:root
  put_file "$TLS_DIR/ca.crt" "$MQ/certs/ca.crt" 0644 root:root
  put_file "$TLS_DIR/server.crt" "$MQ/certs/server.crt" 0644 root:root
  put_file "$TLS_DIR/server.key" "$MQ/certs/server.key" 0640 root:mosquitto
fi

put_unit "$REPO/deploy/server/bzagg.service" "$UNIT"
if [ -n "$DESTDIR" ]; then
  want=$(root "$UNIT_DIR/multi-user.target.wants/bzagg.service")
  if [ "$(readlink "$want" 2>/dev/null)" != "$UNIT" ]; then
    mkdir -p "$(dirname "$want")"
    ln -sfn "$UNIT" "$want"
    CHANGED=1
  fi
elif systemd_live; then
  systemctl daemon-reload
  systemctl enable mosquitto.service bzagg.service
  if [ "$CHANGED" = 1 ]; then
    systemctl restart mosquitto.service
    systemctl restart bzagg.service
  fi
fi

if [ "$CHANGED" = 1 ]; then say "bzagg installed under ${DESTDIR}$PREFIX"; else say "nothing to change"; fi
[ -f "$(root "$MQ/certs/server.key")" ] ||
  say "next: the broker's certificate (--tls-dir, docs/deployment.md), then bzagg nodes add NAME --site SITE"
