# Sourced by the ensure-*.sh scripts: install one Debian package quietly, as root.
#
#   apt_install_package PACKAGE WHAT FOUND_CMD
#
# installs PACKAGE (with `apt-get update` first only if a plain install fails), then runs
# FOUND_CMD (a function that prints what it found and succeeds) and says in one line what
# happened; WHAT names the tests that skip without it. Never fails: returns 0.
apt_install_package() {
    local package=$1 what=$2 found_cmd=$3 log start updated="" secs found
    log=$(mktemp "/tmp/ensure-$package.XXXXXX.log")
    _apt() {
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            -o DPkg::Lock::Timeout=120 "$package" >>"$log" 2>&1
    }
    start=$(date +%s)
    if ! _apt; then
        updated=" after apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=120 \
            >>"$log" 2>&1
        _apt
    fi
    secs=$(($(date +%s) - start))
    if found=$("$found_cmd"); then
        say "installed Debian's $package$updated in ${secs}s ($found)"
        rm -f "$log"
    else
        say "could not install Debian's $package$updated (${secs}s): $what will skip;" \
            "last log line: $(tail -n 1 "$log" 2>/dev/null) (full log $log)"
    fi
    return 0
}
