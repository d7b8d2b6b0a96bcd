# Shared by deploy/pi/install.sh and deploy/server/install.sh (sourced, not run).
# Every step is idempotent: a file is rewritten only when its content, mode or owner differ,
# so a second run changes nothing (not even a timestamp). With DESTDIR set, everything goes
# under that directory, users are created in DESTDIR/etc/passwd (useradd --prefix) and no
# service is started: that is how the tests run these scripts without touching the system.
# shellcheck shell=bash
# The settings below are read by the scripts that source this file.
# shellcheck disable=SC2034

PREFIX=/opt/bluezone-audit
CONF_DIR=/etc/bluezone-audit
STATE_DIR=/var/lib/bluezone-audit
UNIT_DIR=/etc/systemd/system
DESTDIR=${DESTDIR:-}
SKIP_PIP=0
UNINSTALL=0
CHANGED=0
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SOURCE=$REPO

say() { printf '%s\n' "$*" >&2; }
die() { say "install.sh: $*"; exit 2; }

# The real path of a system path, under DESTDIR when one is given.
root() { printf '%s%s' "$DESTDIR" "$1"; }

# uid or gid of NAME from the passwd/group file of the target root.
uid_of() { awk -F: -v n="$1" '$1 == n { print $3 }' "$(root /etc/passwd)"; }
gid_of() { awk -F: -v n="$1" '$1 == n { print $3 }' "$(root /etc/group)"; }

ensure_group() {
  local name=$1
  [ -n "$(gid_of "$name")" ] && return 0
  groupadd --prefix "${DESTDIR:-/}" --system "$name"
  CHANGED=1
}

# A system user with its own group, member of the extra groups given.
ensure_user() {
  local name=$1 home=$2
  shift 2
  if [ -z "$(uid_of "$name")" ]; then
    useradd --prefix "${DESTDIR:-/}" --system --user-group --no-create-home \
      --home-dir "$home" --shell /usr/sbin/nologin "$name"
    CHANGED=1
  fi
  local group
  for group in "$@"; do
    ensure_group "$group"
    if ! awk -F: -v g="$group" -v u="$name" \
      '$1 == g { n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) f = 1 } END { exit !f }' \
      "$(root /etc/group)"; then
      usermod --prefix "${DESTDIR:-/}" -a -G "$group" "$name"
      CHANGED=1
    fi
  done
}

# DESTDIR roots start empty: give them the account files useradd expects.
prepare_root() {
  [ -n "$DESTDIR" ] || return 0
  mkdir -p "$(root /etc)"
  local f
  for f in passwd group shadow gshadow; do
    [ -e "$(root "/etc/$f")" ] || : >"$(root "/etc/$f")"
  done
}

# owner spec "user:group" -> "uid:gid" of the target root.
ids() {
  local u=${1%%:*} g=${1##*:}
  local uid gid
  if [ "$u" = root ]; then uid=0; else uid=$(uid_of "$u"); fi
  if [ "$g" = root ]; then gid=0; else gid=$(gid_of "$g"); fi
  if [ -z "$uid" ] || [ -z "$gid" ]; then die "unknown owner $1"; fi
  printf '%s:%s' "$uid" "$gid"
}

ensure_dir() {
  local path mode=$2 owner
  path=$(root "$1")
  owner=$(ids "$3")
  if [ ! -d "$path" ]; then
    mkdir -p "$path"
    CHANGED=1
  fi
  [ "$(stat -c %a "$path")" = "${mode#0}" ] || { chmod "$mode" "$path"; CHANGED=1; }
  [ "$(stat -c %u:%g "$path")" = "$owner" ] || { chown "$owner" "$path"; CHANGED=1; }
}

# put_file SRC DEST MODE OWNER: copy unless DEST already has that content, mode and owner.
put_file() {
  local src=$1 dest mode=$3 owner
  dest=$(root "$2")
  owner=$(ids "$4")
  mkdir -p "$(dirname "$dest")"
  if [ ! -f "$dest" ] || ! cmp -s "$src" "$dest"; then
    cp "$src" "$dest.tmp.$$"
    mv -f "$dest.tmp.$$" "$dest"
    CHANGED=1
  fi
  [ "$(stat -c %a "$dest")" = "${mode#0}" ] || { chmod "$mode" "$dest"; CHANGED=1; }
  [ "$(stat -c %u:%g "$dest")" = "$owner" ] || { chown "$owner" "$dest"; CHANGED=1; }
}

# put_config SRC DEST MODE OWNER: a file the operator owns. Never overwritten: when the shipped
# version differs, it goes beside it as DEST.new for the operator to merge.
put_config() {
  local src=$1 dest
  dest=$(root "$2")
  if [ ! -e "$dest" ]; then
    put_file "$@"
    return 0
  fi
  if cmp -s "$src" "$dest"; then
    rm -f "$dest.new"
    return 0
  fi
  if [ ! -f "$dest.new" ] || ! cmp -s "$src" "$dest.new"; then
    put_file "$src" "$2.new" "$3" "$4"
    say "kept $2 (yours); the shipped version is in $2.new"
  fi
}

# A unit file with the install prefix substituted (the shipped units say /opt/bluezone-audit).
put_unit() {
  local src=$1 dest=$2 tmp
  tmp=$(mktemp)
  sed "s#/opt/bluezone-audit#$PREFIX#g" "$src" >"$tmp"
  put_file "$tmp" "$dest" 0644 root:root
  rm -f "$tmp"
}

# The virtualenv with one role's extra: pip install 'SOURCE[extra]', SOURCE a checkout or a wheel.
make_venv() {
  local extra=$1 venv
  venv=$(root "$PREFIX")
  if [ "$SKIP_PIP" = 1 ]; then
    say "skipping the virtualenv and pip install (--skip-pip)"
    return 0
  fi
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    CHANGED=1
  fi
  local before after
  before=$("$venv/bin/python" -m pip freeze --all 2>/dev/null | sort | md5sum)
  # --upgrade-strategy only-if-needed: a second run with the same source installs nothing.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --upgrade-strategy only-if-needed "${SOURCE}[$extra]"
  after=$("$venv/bin/python" -m pip freeze --all 2>/dev/null | sort | md5sum)
  [ "$before" = "$after" ] || CHANGED=1
}

# What an uninstall removes: the program, the units, the docs. Config and state stay.
remove_paths() {
  local p
  for p in "$@"; do
    if [ -e "$(root "$p")" ] || [ -L "$(root "$p")" ]; then
      rm -rf "$(root "$p")"
      say "removed $p"
    fi
  done
}

# Debian packages the real install needs (never under DESTDIR): only the missing ones.
apt_need() {
  [ -z "$DESTDIR" ] || return 0
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# /usr/local/bin/NAME -> the virtualenv's NAME, so operators type `bzscan doctor`.
put_link() {
  local link
  link=$(root "/usr/local/bin/$1")
  [ "$(readlink "$link" 2>/dev/null)" = "$PREFIX/bin/$1" ] && return 0
  mkdir -p "$(dirname "$link")"
  ln -sfn "$PREFIX/bin/$1" "$link"
  CHANGED=1
}

systemd_live() { [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; }

parse_common() {
  case "$1" in
    --prefix) PREFIX=$2 ;;
    --destdir) DESTDIR=$2 ;;
    --source) SOURCE=$2 ;;
    *) return 1 ;;
  esac
}

check_source() {
  case "$SOURCE" in
    *.whl) [ -f "$SOURCE" ] || die "--source $SOURCE: no such wheel" ;;
    *) [ -f "$SOURCE/setup.cfg" ] || die "--source $SOURCE: not a bluezone-audit checkout or wheel" ;;
  esac
  SOURCE=$(cd "$(dirname "$SOURCE")" && pwd)/$(basename "$SOURCE")
}
