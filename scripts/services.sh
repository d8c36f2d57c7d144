#!/usr/bin/env bash
# Makes sure the servers the integration tests talk to are installed and
# running on this (Debian) machine, with the access the tests expect:
#   redis-server on PATH (tests start their own throwaway instances)
#   MariaDB on 127.0.0.1:3306, user root with no password, database test
#   PostgreSQL on 127.0.0.1:5432, trust authentication, database test, role root
# Idempotent: on a machine that already has them it only checks. Installing
# needs root (or sudo) and Debian's apt repositories.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
apt_updated=""
need() { # need PACKAGE: install it with apt-get
	if [ -z "$apt_updated" ]; then $SUDO apt-get update -qq; apt_updated=1; fi
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

command -v redis-server >/dev/null || need redis-server

# MariaDB
if ! command -v mariadbd >/dev/null && ! [ -x /usr/sbin/mariadbd ]; then need mariadb-server mariadb-client; fi
if ! mariadb-admin -h127.0.0.1 -uroot ping --silent >/dev/null 2>&1; then
	if ! mariadb-admin ping --silent >/dev/null 2>&1; then
		$SUDO mkdir -p /run/mysqld && $SUDO chown mysql:mysql /run/mysqld 2>/dev/null || true
		$SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
		for _ in $(seq 1 30); do mariadb-admin ping --silent >/dev/null 2>&1 && break; sleep 1; done
	fi
	# A fresh install lets root in through the unix socket only.
	$SUDO mariadb -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;" || true
fi
mariadb -h127.0.0.1 -uroot -e "CREATE DATABASE IF NOT EXISTS test" >/dev/null

# PostgreSQL
if ! command -v pg_ctlcluster >/dev/null; then need postgresql; fi
if ! pg_isready -h 127.0.0.1 -q 2>/dev/null; then
	version=$(ls /etc/postgresql | sort -n | tail -1)
	hba=/etc/postgresql/$version/main/pg_hba.conf
	if ! grep -q "^host all all 127.0.0.1/32 trust" "$hba"; then
		$SUDO sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
	fi
	$SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start
	for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -q && break; sleep 1; done
fi
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname='root'" | grep -q 1 ||
	psql -h 127.0.0.1 -U postgres -qc "CREATE ROLE root SUPERUSER LOGIN"
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 ||
	psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE test"
echo "services: redis-server, MariaDB and PostgreSQL ready"
