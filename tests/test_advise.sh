#!/bin/sh
# xipvm advise end to end, on a makefs image and a trace written here:
# the pages a file's run used (worked out by hand from the trace), each
# block's compressed size (python's zlib and the zstd command, not the
# tool's own code), hard links once, the curve and the choice for both
# budgets (recomputed from the profile), CSV, SVG, JSON keys documented,
# and bad options.  Usage: test_advise.sh PATH-TO-xipvm
NAME=test_advise TOOLS="python3 zstd"
. "$(dirname "$0")/cli_lib.sh"

# /etc/data: two pages of text, three of random bytes, a 100-byte tail;
# a hard link to it; a file nothing uses.
mkdir -p "$T/adv/bin" "$T/adv/etc"
cp /bin/busybox "$T/adv/bin/busybox"
python3 - "$T/adv/etc" <<'EOF'
import os, random, sys
d = sys.argv[1]
r = random.Random(15)
text = b"".join(b"line %d of a configuration file\n" % i for i in range(400))
data = text[:8192] + bytes(r.getrandbits(8) for _ in range(3 * 4096 + 100))
open(os.path.join(d, "data"), "wb").write(data)
open(os.path.join(d, "unused"), "wb").write(text[:5000])
os.link(os.path.join(d, "data"), os.path.join(d, "data.link"))
EOF
"$MAKEFS" -t ffs -M 4m -b 10% -B big -o version=1,bsize=16384,fsize=4096 \
    "$T/adv.img" "$T/adv" >/dev/null 2>&1 || { echo "FAIL: makefs" >&2; exit 1; }

# The run: busybox starts; /etc/data mapped, pages 0 and 3 read, page 1
# written (one fault, one copy); a forked child reads page 0 again (its
# own fault: the pager is asked twice for page 0).
cat >"$T/adv.trace" <<'EOF'
xipvm-trace 1
spawn 1 /bin/busybox echo hi
mmap 1 0x40000000 0x6000 rw- private /etc/data 0
r 1 0x40000000 1
r 1 0x40003000 1
w 1 0x40001000 1
fork 1 2
r 2 0x40000000 1
exit 2
EOF

ADV="$XIPVM advise --image $T/adv.img --fault-ahead 0 --readahead 0"
expect 0 "advise --json on a clean trace exits 0" -- $ADV --json "$T/adv.trace"
cp "$T/out" "$T/adv.json"
expect 0 "advise --json with a flash budget" -- \
    $ADV --json --flash-budget 1200K "$T/adv.trace"
cp "$T/out" "$T/flash.json"
expect 0 "advise --json with a RAM budget (zstd)" -- \
    $ADV --json --ram-budget 40K --codec zstd "$T/adv.trace"
cp "$T/out" "$T/ram.json"

# Each block of each file compressed alone, by other code than the tool's.
python3 - "$T/adv" "$T/blocks" <<'EOF'
import os, sys, zlib
root, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
for rel in ("bin/busybox", "etc/data", "etc/unused"):
    b = open(os.path.join(root, rel), "rb").read()
    for i in range(0, len(b), 4096):
        name = os.path.join(out, rel.replace("/", "_") + ".%d" % (i // 4096))
        open(name, "wb").write(b[i:i + 4096])
        open(name + ".zlib", "w").write(
            str(min(len(zlib.compress(b[i:i + 4096], 9)), len(b[i:i + 4096]))))
EOF
# zstd's command for the small files' blocks and busybox's first eight
for f in "$T"/blocks/etc_*.[0-9] "$T"/blocks/bin_busybox.[0-7]; do
    n=$(zstd -q -15 --no-check -c "$f" | wc -c)
    s=$(wc -c <"$f")
    [ "$n" -lt "$s" ] || n=$s
    echo "$n" >"$f.zstd"
done

python3 - "$T" "$(dirname "$0")/../doc/figures.md" <<'EOF' && ok "per-page profile, compressed sizes, curve and choices" || fail "advise's figures"
import json, os, re, sys
T, figures = sys.argv[1], sys.argv[2]
adv, fl, rm = (json.load(open(os.path.join(T, n)))
               for n in ("adv.json", "flash.json", "ram.json"))
FRAME = 4096 + 72

def block(rel, i, codec):
    return int(open(os.path.join(T, "blocks", rel.replace("/", "_")[1:]
                                 + ".%d.%s" % (i, codec))).read())

files = adv["files"]
# hard links once: /etc/data or /etc/data.link, not both
assert ("/etc/data" in files) != ("/etc/data.link" in files), sorted(files)
data = files.get("/etc/data") or files["/etc/data.link"]
assert data["file_pages"] == 6 and data["size"] == 5 * 4096 + 100
want = [(0, 2, 0), (1, 1, 1), (3, 1, 0)]  # page, touches, written
got = [(p["page"], p["touches"], p["written"]) for p in data["pages"]]
assert got == want, got
assert all(p["cached"] == 1 for p in data["pages"])
assert data["pages_written"] == 1 and data["pages_touched"] == 3
assert data["ram_copy"] == 3 * FRAME
assert files["/etc/unused"]["pages"] == [] and files["/etc/unused"]["ram_copy"] == 0

# every block's compressed sizes, against python's zlib and zstd's command
for path, f in files.items():
    rel = "/etc/data" if path.startswith("/etc/data") else path
    n = f["file_pages"]
    assert f["zlib_bytes"] == sum(block(rel, i, "zlib") for i in range(n)), path
    if rel != "/bin/busybox":
        assert f["zstd_bytes"] == sum(block(rel, i, "zstd") for i in range(n)), path
    for p in f["pages"]:
        assert p["zlib_bytes"] == block(rel, p["page"], "zlib")
        if rel != "/bin/busybox" or p["page"] < 8:
            assert p["zstd_bytes"] == block(rel, p["page"], "zstd")
    assert f["xip_bytes"] == 4096 * n

# totals and the curve, recomputed from the pages: the pages that cost RAM
# by extra flash (a page less its compressed size), cheapest first
for d, codec in ((adv, "zlib"), (fl, "zlib"), (rm, "zstd")):
    assert d["codec"] == codec
    packed = {"zlib": 0, "zstd": 0}
    extra, ram = [], 0
    for f in d["files"].values():
        for c in packed:
            packed[c] += f[c + "_bytes"]
        for p in f["pages"]:
            if p["cached"]:
                extra.append(4096 - p[codec + "_bytes"])
                ram += FRAME
    extra.sort()
    assert d["flash_all_zlib"] == packed["zlib"]
    assert d["flash_all_zstd"] == packed["zstd"]
    assert d["flash_all_xip"] == sum(f["xip_bytes"] for f in d["files"].values())
    assert d["ram_copy"] == ram
    flash = [packed[codec]]
    for e in extra:
        flash.append(flash[-1] + e)
    assert [c["flash"] for c in d["curve"]] == flash, (d["curve"], flash)
    assert [c["ram_saved"] for c in d["curve"]] == [k * FRAME for k in range(len(flash))]
    assert d["flash_used_xip"] == flash[-1]

assert adv["choice"] is None and adv["flash_budget"] is None
# the flash budget: the most pages whose flash fits 1200 KiB
flash = [c["flash"] for c in fl["curve"]]
k = max(i for i, f in enumerate(flash) if f <= 1200 * 1024)
assert fl["flash_budget"] == 1200 * 1024 and fl["ram_budget"] is None
assert fl["choice"] == {"keep_xip_pages": k, "flash": flash[k],
                        "ram_saved": k * FRAME,
                        "ram_left": fl["ram_copy"] - k * FRAME}, fl["choice"]
kept = sum(p["keep_xip"] for f in fl["files"].values() for p in f["pages"])
assert kept == k == sum(f["keep_xip_pages"] for f in fl["files"].values())
# the RAM budget: the fewest pages that leave at most 40 KiB
k = min(i for i in range(len(rm["curve"])) if rm["ram_copy"] - i * FRAME <= 40 * 1024)
assert rm["choice"]["keep_xip_pages"] == k and rm["choice"]["ram_left"] <= 40 * 1024
assert rm["choice"]["flash"] == rm["curve"][k]["flash"]

# every key is defined in doc/figures.md
doc = open(figures).read()
defined = set(re.findall(r"`([a-z0-9_]+)`", doc))
def keys(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if not k.startswith("/"):
                yield k
            yield from keys(v)
    elif isinstance(x, list):
        for v in x:
            yield from keys(v)
missing = set(keys(fl)) - defined
assert not missing, "not in doc/figures.md: %s" % missing
EOF

# Two traces at once (their processes apart): twice the touches, the
# same pages.
expect 0 "advise of two traces at once" -- \
    $ADV --json "$T/adv.trace" "$T/adv.trace"
python3 - "$T/out" <<'EOF' && ok "two traces: each page touched twice as often" || fail "two traces"
import json, sys
f = json.load(open(sys.argv[1]))["files"]
data = f.get("/etc/data") or f["/etc/data.link"]
got = [(p["page"], p["touches"], p["copies"]) for p in data["pages"]]
assert got == [(0, 4, 0), (1, 2, 2), (3, 2, 0)], got
EOF

# CSV: the curve, the same points as the JSON's
expect 0 "advise --csv" -- $ADV --csv "$T/adv.trace"
python3 - "$T/out" "$T/adv.json" <<'EOF' && ok "CSV is the curve" || fail "CSV curve"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
d = json.load(open(sys.argv[2]))
assert [int(r["flash"]) for r in rows] == [c["flash"] for c in d["curve"]]
assert [int(r["ram_saved"]) for r in rows] == [c["ram_saved"] for c in d["curve"]]
assert rows[0]["path"] == "" and all(r["path"] for r in rows[1:])
assert all(int(r["flash_extra"]) == int(r["flash"]) - int(rows[0]["flash"]) for r in rows)
EOF

expect 0 "advise text with --svg and --pages" -- \
    $ADV --flash-budget 1200K --pages --svg "$T/curve.svg" "$T/adv.trace"
grep -q "choice for --flash-budget 1200 KiB" "$T/out" || fail "text names the choice"
grep -q "pages the run used" "$T/out" || fail "--pages lists the pages"
python3 -c "import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); assert d.getElementsByTagName('polyline')" \
    "$T/curve.svg" && ok "the SVG is well-formed, with a curve" || fail "SVG"

# Bad input: said, exit 2 (usage) or 1 (the run), nothing written.
expect 1 "a flash budget below every page compressed" -- \
    $ADV --flash-budget 4K "$T/adv.trace"
grep -q "need" "$T/err" || fail "the too-small budget says what is needed"
# One byte short: the need in bytes, not rounded to the budget's KiB.
need=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["flash_all_zlib"])' "$T/adv.json")
expect 1 "a flash budget one byte short" -- \
    $ADV --flash-budget $((need - 1)) "$T/adv.trace"
grep -q "need $need bytes" "$T/err" || fail "the need is not exact: $(cat "$T/err")"
expect 0 "a flash budget of exactly every page compressed" -- \
    $ADV --flash-budget "$need" "$T/adv.trace"
expect 2 "two budgets" -- $ADV --flash-budget 1M --ram-budget 1M "$T/adv.trace"
# The same budget again replaces it, as other options do; only the two
# kinds conflict.
expect 0 "a flash budget given twice" -- \
    $ADV --json --flash-budget 4K --flash-budget 1200K "$T/adv.trace"
grep -q '"flash_budget": 1228800,' "$T/out" || fail "the last budget counts"
expect 2 "a RAM budget, then a flash budget" -- \
    $ADV --ram-budget 1M --flash-budget 1M "$T/adv.trace"
expect 2 "an unknown codec" -- $ADV --codec lz4 "$T/adv.trace"
expect 2 "a budget that is not a size" -- $ADV --ram-budget lots "$T/adv.trace"
expect 2 "--xip (advise replays copy mode)" -- $ADV --xip "$T/adv.trace"
expect 2 "no trace" -- $ADV
# 16 MiB written in a 512 KiB machine: a process killed, its pages lost
cat >"$T/oom.trace" <<'EOF'
xipvm-trace 1
spawn 1 /bin/busybox
mmap 1 0x40000000 0x1000000 rw- private,fixed
w 1 0x40000000 0x1000000
exit 1
EOF
expect 1 "a replay that does not fit its RAM" -- \
    $ADV --ram 512K "$T/oom.trace"
grep -q "does not fit" "$T/err" || fail "the OOM replay is said"
rm -f "$T/none.svg"
expect 1 "an image that is not FFS" -- \
    $XIPVM advise --image "$T/adv.trace" --svg "$T/none.svg" "$T/adv.trace"
[ ! -e "$T/none.svg" ] || fail "a failed advise wrote its SVG"

# fsinfo says why pages need copies, in words and as JSON.  With 4 KiB
# fragments every tail is whole pages: no copies (adv.img).  With 1 KiB
# fragments a 100-byte file's page cannot map (its fragment is 1 KiB):
# off a page boundary or ending short, nothing else.
expect 0 "fsinfo --json, 4 KiB fragments" -- "$XIPVM" fsinfo --json "$T/adv.img"
cp "$T/out" "$T/whole.json"
mkdir -p "$T/frag"
python3 -c 'import sys; [open(sys.argv[1] + "/f%d" % i, "wb").write(bytes([65 + i]) * (100 + 3000 * i)) for i in range(6)]' "$T/frag"
"$MAKEFS" -t ffs -M 1m -B little -o version=2,bsize=8192,fsize=1024 \
    "$T/frag.img" "$T/frag" >/dev/null 2>&1 || fail "makefs of the fragments"
expect 0 "fsinfo --json, 1 KiB fragments" -- "$XIPVM" fsinfo --json "$T/frag.img"
cp "$T/out" "$T/frag.json"
expect 0 "fsinfo, 1 KiB fragments" -- "$XIPVM" fsinfo "$T/frag.img"
grep -q "copies: 1 page " "$T/out" || fail "fsinfo's text gives no reason"
python3 - "$T/whole.json" "$T/frag.json" "$(dirname "$0")/../doc/figures.md" <<'EOF' && ok "fsinfo's reasons" || fail "fsinfo's reasons"
import json, re, sys
whole, frag = (json.load(open(p)) for p in sys.argv[1:3])
defined = set(re.findall(r"`([a-z0-9_]+)`", open(sys.argv[3]).read()))
why = ("spanning_pages", "unaligned_pages", "tail_short_pages", "past_eof_pages")
for d in (whole, frag):
    keys = set(d) | set(d["totals"]) | set(d["inode_totals"]) | \
        {k for f in d["files"].values() for k in f}
    assert not keys - defined, "not in doc/figures.md: %s" % (keys - defined)
    for f in list(d["files"].values()) + [d["totals"], d["inode_totals"]]:
        assert sum(f[k] for k in why) == f["fallback_pages"], f
        assert f["xip_pages"] + f["hole_pages"] + f["fallback_pages"] == f["file_pages"]
    for k in d["totals"]:
        if k != "regular_files":
            assert d["totals"][k] == sum(f[k] for f in d["files"].values()), k
assert whole["totals"]["fallback_pages"] == 0, whole["totals"]
assert whole["totals"]["regular_files"] == 4  # the hard link under both paths
# ... and once by inode: the totals less the link's figures
assert whole["inode_totals"]["inodes"] == 3, whole["inode_totals"]
link = whole["files"]["/etc/data.link"]
for k, v in whole["inode_totals"].items():
    if k != "inodes":
        assert v == whole["totals"][k] - link[k], k
f0 = frag["files"]["/f0"]
assert f0["file_pages"] == 1 and f0["fallback_pages"] == 1
assert f0["unaligned_pages"] + f0["tail_short_pages"] == 1, f0
assert frag["totals"]["past_eof_pages"] == 0 and frag["totals"]["spanning_pages"] == 0
EOF
expect 2 "fsinfo with an unknown option" -- "$XIPVM" fsinfo --csv "$T/adv.img"
expect 2 "fsinfo with two images" -- "$XIPVM" fsinfo "$T/adv.img" "$T/adv.img"
expect 1 "fsinfo --json of a non-FFS image prints nothing" -- \
    "$XIPVM" fsinfo --json "$T/adv.trace"
[ ! -s "$T/out" ] || fail "a failed fsinfo --json printed a document"

finish
