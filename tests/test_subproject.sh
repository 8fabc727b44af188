#!/bin/sh
# libxipvm as a Meson subproject of another project (tests/subproject/),
# with the subproject's defaults: it must build the library only — fewer
# than 10 targets, none of cmocka, zlib or zstd looked up — and the
# parent's own test must pass against it.
#   test_subproject.sh SOURCE_ROOT
set -u
SRC=${1:?usage: test_subproject.sh SOURCE_ROOT}
for tool in meson ninja python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "FAIL: $tool not found" >&2; exit 1; }
done
T=$(mktemp -d /tmp/test_subproject.XXXXXX)
trap 'rm -rf "$T"' EXIT
cp -R "$SRC/tests/subproject" "$T/parent" || exit 1
mkdir -p "$T/parent/subprojects"
ln -s "$(cd "$SRC" && pwd)" "$T/parent/subprojects/libxipvm" || exit 1
cd "$T/parent" || exit 1

# Unset what an enclosing `meson test` may have set for its own build.
unset MESON_BUILD_ROOT MESON_SOURCE_ROOT MESONINTROSPECT
meson setup build >"$T/setup.log" 2>&1 || { cat "$T/setup.log" >&2; echo "FAIL: meson setup" >&2; exit 1; }
# What setup looked for: none of the test/tool dependencies.
if grep -Ei 'Run-time dependency (cmocka|zlib|libzstd)' "$T/setup.log"; then
    echo "FAIL: the subproject looked up a dependency of its tests or tools" >&2
    exit 1
fi
meson introspect --targets build >"$T/targets.json" || exit 1
python3 - "$T/targets.json" <<'PY' || exit 1
import json, sys
targets = json.load(open(sys.argv[1]))
names = sorted("%s (%s)" % (t["name"], t["type"]) for t in targets)
print("%d targets: %s" % (len(names), ", ".join(names)))
assert len(names) < 10, "a parent builds %d targets: %s" % (len(names), names)
# The only program is the parent's own: no tool, test, bench or fuzzer.
progs = [t["name"] for t in targets if t["type"] == "executable"]
assert progs == ["parent"], "programs built: %s" % progs
PY
meson introspect --tests build >"$T/tests.json" || exit 1
python3 - "$T/tests.json" <<'PY' || exit 1
import json, sys
names = [t["name"] for t in json.load(open(sys.argv[1]))]
assert names == ["parent"], "the parent's meson test runs %s" % names
PY
ninja -C build -j2 >"$T/build.log" 2>&1 || { cat "$T/build.log" >&2; echo "FAIL: build" >&2; exit 1; }
meson test -C build --print-errorlogs || { echo "FAIL: the parent's test" >&2; exit 1; }
echo "ok: libxipvm as a subproject builds the library only"
