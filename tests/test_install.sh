#!/bin/sh
# `meson install` puts in place what a user of the library and of the
# command needs: the libraries, the headers, the pkg-config file, the
# xipvm command and both manual pages (which render without warnings).
#   test_install.sh BUILD_ROOT
set -u
B=${1:?usage: test_install.sh BUILD_ROOT}
T=$(mktemp -d /tmp/test_install.XXXXXX)
trap 'rm -rf "$T"' EXIT
meson install -C "$B" --no-rebuild --destdir "$T" >"$T/log" 2>&1 ||
    { cat "$T/log" >&2; echo "FAIL: meson install" >&2; exit 1; }
fails=0
for want in bin/xipvm include/xipvm.h include/xipvm_trace.h \
    share/man/man1/xipvm.1 share/man/man3/libxipvm.3; do
    n=$(find "$T" -path "*/$want" | wc -l)
    [ "$n" -eq 1 ] && echo "ok: $want" || { echo "FAIL: $want not installed" >&2; fails=$((fails + 1)); }
done
for want in 'libxipvm.so*' libxipvm.a libxipvm.pc; do
    [ -n "$(find "$T" -name "$want")" ] && echo "ok: $want" ||
        { echo "FAIL: $want not installed" >&2; fails=$((fails + 1)); }
done
for page in $(find "$T" -name 'xipvm.1' -o -name 'libxipvm.3'); do
    w=$(groff -z -ww -man "$page" 2>&1)
    [ -z "$w" ] && echo "ok: $(basename "$page") renders" ||
        { echo "FAIL: $page: $w" >&2; fails=$((fails + 1)); }
done
[ "$fails" -eq 0 ] || exit 1
