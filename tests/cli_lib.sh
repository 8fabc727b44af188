# Shared by the shell tests of the xipvm command (test_cli.sh,
# test_sweep.sh); sourced, not run.  Set NAME and TOOLS, then source it:
#   $XIPVM   the command under test (the script's first argument)
#   $T       a temporary directory, removed on exit, holding $T/img, an
#            FFS image of /bin/busybox as /bin/busybox
#   fail, ok, expect STATUS DESCRIPTION -- COMMAND... (output in $T/out,
#   $T/err), and finish (the exit status).
set -u
XIPVM=${1:?usage: $NAME XIPVM}
MAKEFS=${MAKEFS:-$(command -v makefs || echo /usr/sbin/makefs)}
for tool in "$XIPVM" "$MAKEFS" $TOOLS; do
    command -v "$tool" >/dev/null 2>&1 || { echo "FAIL: $tool not found (.ci/install-deps)" >&2; exit 1; }
done
T=$(mktemp -d "/tmp/$NAME.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# expect STATUS DESCRIPTION -- COMMAND...: runs it, output in $T/out/$T/err
expect() {
    want=$1; what=$2; shift 3
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$what: exit $got, expected $want"
        sed 's/^/    /' "$T/err" >&2
    else
        ok "$what"
    fi
}

finish() {
    if [ "$fails" -ne 0 ]; then
        echo "$fails failure(s)" >&2
        exit 1
    fi
    echo "all passed"
    exit 0
}

mkdir -p "$T/tree/bin" || exit 1
cp /bin/busybox "$T/tree/bin/busybox" || { echo "FAIL: no /bin/busybox" >&2; exit 1; }
"$MAKEFS" -t ffs -M 1m -b 10% -B little -o version=2,bsize=32768,fsize=4096 "$T/img" "$T/tree" >/dev/null 2>&1 ||
    { echo "FAIL: makefs failed" >&2; exit 1; }
