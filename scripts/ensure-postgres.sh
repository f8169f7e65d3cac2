#!/usr/bin/env bash
# Make PostgreSQL's server binaries (initdb, pg_ctl, postgres) available to the test suite.
#
# The tests start their own throw-away server (tests/pg.py); this script only installs the
# binaries, with Debian's `postgresql` package, when they are missing and we are root with
# apt-get. Debian's default "main" cluster is not created (nothing here uses it).
# It prints one line and never fails the build: without the binaries the PostgreSQL tests skip.
# IFNS_PG_BIN_DIRS (os.pathsep-separated globs) replaces /usr/lib/postgresql/*/bin, as in tests/pg.py.
set -u

say() { echo "ensure-postgres: $*"; }

find_initdb() {
    local d p patterns
    if command -v initdb >/dev/null 2>&1; then
        command -v initdb
        return 0
    fi
    IFS=: read -r -a patterns <<<"${IFNS_PG_BIN_DIRS-/usr/lib/postgresql/*/bin}"
    while IFS= read -r d; do  # newest version first
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
            echo "$d/initdb"
            return 0
        fi
    done < <(for p in "${patterns[@]}"; do [ -n "$p" ] && compgen -G "$p"; done | sort -rV)
    return 1
}

if found=$(find_initdb); then
    say "PostgreSQL found ($found), nothing to install"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    say "PostgreSQL not found and not root: not installing; PostgreSQL tests will skip" \
        "(install Debian's postgresql, or set IFNS_TEST_POSTGRES_URL)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    say "PostgreSQL not found and no apt-get: not installing; PostgreSQL tests will skip" \
        "(install PostgreSQL's server binaries, or set IFNS_TEST_POSTGRES_URL)"
    exit 0
fi

# Keep Debian's post-install from creating (and starting) its default cluster: a drop-in that
# postgresql-common's createcluster.conf includes, removed again once the package is in.
ccdir=/etc/postgresql-common/createcluster.d
dropin=$ccdir/zz-ifns-no-main-cluster.conf
made_dir=0
[ -d "$ccdir" ] || made_dir=1
cleanup() {
    rm -f "$dropin"
    [ "$made_dir" = 1 ] && rmdir "$ccdir" 2>/dev/null
    return 0
}
trap cleanup EXIT
mkdir -p "$ccdir" && echo "create_main_cluster = false" >"$dropin"

. "$(dirname "$0")/apt-install.sh"
apt_install_package postgresql "the PostgreSQL tests" find_initdb
exit 0
