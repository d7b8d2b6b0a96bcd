#!/usr/bin/env bash
# Debian packages the test suite starts for real: Mosquitto (MQTT), dbus-daemon (fake BlueZ bus),
# tshark and btmon (capture cross-checks), Chromium (HTML report check), openssl (TLS test certs),
# PostgreSQL (the scale-out store's tests start their own server from its binaries).
# Installs only what is missing, so a warm machine pays nothing.
set -euo pipefail
need=()
command -v mosquitto >/dev/null || need+=(mosquitto)
command -v mosquitto_sub >/dev/null || need+=(mosquitto-clients)
command -v dbus-daemon >/dev/null || need+=(dbus-daemon)
command -v tshark >/dev/null || need+=(tshark)
command -v btmon >/dev/null || need+=(bluez)
command -v chromium >/dev/null || need+=(chromium)
command -v openssl >/dev/null || need+=(openssl)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${need[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
