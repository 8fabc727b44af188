#!/bin/sh
# The xipvm command end to end: exit statuses, --json keys, compare's JSON
# and SVG, gzip/zstd/stdin input giving the same figures, fsinfo, usage
# and image errors.  Usage: test_cli.sh PATH-TO-xipvm
NAME=test_cli TOOLS="python3 gzip zstd"
. "$(dirname "$0")/cli_lib.sh"

# A clean trace: the ELF magic at the start of busybox's first segment.
cat >"$T/clean.trace" <<'EOF'
xipvm-trace 1
spawn 1 /bin/busybox echo hi
r 1 0x400000 4 =7f454c46
x 1 0x401000 64
mmap 1 0x40000000 0x3000 rw- private,fixed
w 1 0x40000000 4 =01020304
r 1 0x40000000 4 =01020304
mark middle
fork 1 2
w 2 0x40001000 8
r 1 0x50000000 1 !EFAULT
exit 2
mark end
EOF
# The same with one wrong =HEX.
sed 's/^r 1 0x40000000 4 =01020304$/r 1 0x40000000 4 =01020305/' \
    "$T/clean.trace" >"$T/bad.trace"

RUN="$XIPVM run --image $T/img --fault-ahead 0 --readahead 0"
expect 0 "run on a clean trace exits 0" -- $RUN "$T/clean.trace"
grep -q "0 mismatches" "$T/out" || fail "run summary does not say 0 mismatches"
expect 1 "run on a trace with a mismatch exits 1" -- $RUN "$T/bad.trace"
grep -q "line 7" "$T/err" || fail "the mismatch message does not name line 7"
expect 1 "copy mode exits 1 on the mismatch too" -- $RUN --copy "$T/bad.trace"

KEYS="mode machine events mismatches ram_used_peak pages_peak ram_peak
ram_peak_total vm_page_metadata_bytes faults cow_promotions zero_fills
device_maps fallback_pages flash_bytes_read flash_block_bytes_read
flash_xip_bytes_read pv_entries_peak tlb_hits tlb_misses marks timeline"

# check_json FILE MODE: one object with every key, the mode, no mismatch
check_json() {
    python3 - "$1" "$2" "$KEYS" <<'EOF' || fail "JSON of $1"
import json, sys
path, mode, keys = sys.argv[1], sys.argv[2], sys.argv[3].split()
with open(path) as f:
    d = json.load(f)
missing = [k for k in keys if k not in d]
assert not missing, "missing keys: %s" % missing
assert d["mode"] == mode, d["mode"]
assert d["machine"] == "sgimips"
assert d["events"] == 12 and d["mismatches"] == 0, (d["events"], d["mismatches"])
assert set(d["marks"]) == {"middle", "end"}
assert d["marks"]["middle"]["event"] == 7
# With fault-ahead and read-ahead off only the touched pages come in:
# copy mode caches file page 0 (exec's header read, and the r at 0x400000),
# the text page fetched, and the file page under the start of bss (exec
# zeroes the rest of it: a copy-on-write); XIP maps the first two from
# flash.  Anon pages: that bss page, exec's stack page, the parent's write
# and the child's.
if mode == "copy":
    assert d["pages_peak"]["page_cache"] == 3, d["pages_peak"]
    assert d["device_maps"] == 0
else:
    assert d["pages_peak"]["page_cache"] == d["fallback_pages"] == 0
    assert d["device_maps"] == 2, d["device_maps"]
assert d["pages_peak"]["anon"] == 4, d["pages_peak"]
# One meaning per name: the total is its two paths, the RAM rows add up.
assert d["flash_bytes_read"] == d["flash_block_bytes_read"] + d["flash_xip_bytes_read"]
assert sum(d["ram_peak"].values()) == d["ram_peak_total"], d["ram_peak"]
assert d["vm_page_metadata_bytes"] == d["ram_pages"] * d["vm_page_bytes"]
# The timeline spans the run from its start.
assert d["timeline"][0]["at"] == 0 and d["timeline"][-1]["at"] == d["events"]
EOF
}
expect 0 "run --json (xip)" -- $RUN --json "$T/clean.trace"
cp "$T/out" "$T/xip.json"
check_json "$T/xip.json" xip && ok "xip JSON has every key and the expected pages"
expect 0 "run --json --copy" -- $RUN --copy --json "$T/clean.trace"
cp "$T/out" "$T/copy.json"
check_json "$T/copy.json" copy && ok "copy JSON has every key and the expected pages"

# Every key the JSON prints is defined in doc/figures.md (one name, one
# meaning): the run's keys, its per-use and per-kind keys, the timeline's.
FIGURES="$(dirname "$0")/../doc/figures.md"
python3 - "$T/xip.json" "$FIGURES" <<'EOF' && ok "every JSON key is in doc/figures.md" || fail "undocumented JSON keys"
import json, sys
d = json.load(open(sys.argv[1]))
doc = open(sys.argv[2]).read()
keys = set(d)
for k in ("pages", "pages_peak", "ram_now", "ram_peak"):
    keys |= set(d[k])
for s in d["timeline"]:
    keys |= set(s) | set(s["ram"])
missing = sorted(k for k in keys if "`%s`" % k not in doc)
assert not missing, "not in doc/figures.md: %s" % missing
EOF

# Compressed and standard input give the same figures.
same_json() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("events", "mismatches", "pages_peak", "ram_peak",
          "faults", "device_maps", "flash_bytes_read", "tlb_misses", "marks"):
    assert a[k] == b[k], (k, a[k], b[k])
EOF
}
gzip -c "$T/clean.trace" >"$T/clean.trace.gz" || fail "gzip"
zstd -q -c "$T/clean.trace" >"$T/clean.trace.zst" || fail "zstd"
for f in clean.trace.gz clean.trace.zst; do
    expect 0 "run --json on $f" -- $RUN --json "$T/$f"
    cp "$T/out" "$T/other.json"
    same_json "$T/xip.json" "$T/other.json" && ok "$f gives the same figures" ||
        fail "$f gives other figures"
done
$RUN --json - <"$T/clean.trace" >"$T/other.json" 2>"$T/err" || fail "run - (stdin)"
same_json "$T/xip.json" "$T/other.json" && ok "stdin gives the same figures" ||
    fail "stdin gives other figures"
$RUN --json - <"$T/clean.trace.zst" >"$T/other.json" 2>"$T/err" || fail "run - (zstd stdin)"
same_json "$T/xip.json" "$T/other.json" && ok "zstd on stdin gives the same figures" ||
    fail "zstd on stdin gives other figures"
head -c 40 "$T/clean.trace.gz" >"$T/cut.gz"
expect 1 "a truncated .gz is an error" -- $RUN "$T/cut.gz"
# Cut only the trailer (gzip CRC and length; zstd checksum): every line
# is there, but the stream never ends, so the file is corrupt.
n=$(wc -c <"$T/clean.trace.gz")
head -c $((n - 8)) "$T/clean.trace.gz" >"$T/cut8.gz"
expect 1 "a .gz without its trailer is an error" -- $RUN "$T/cut8.gz"
grep -q "corrupt compressed data" "$T/err" || fail "no message for a cut .gz"
n=$(wc -c <"$T/clean.trace.zst")
head -c $((n - 4)) "$T/clean.trace.zst" >"$T/cut4.zst"
expect 1 "a .zst without its end is an error" -- $RUN "$T/cut4.zst"
grep -q "corrupt compressed data" "$T/err" || fail "no message for a cut .zst"

# compare: xip, copy and saved; an SVG that is well-formed XML.
CMP="$XIPVM compare --image $T/img --fault-ahead 0 --readahead 0"
expect 0 "compare --json --svg" -- $CMP --json --svg "$T/chart.svg" "$T/clean.trace"
python3 - "$T/out" <<'EOF' && ok "compare JSON has xip, copy and saved" || fail "compare JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) >= {"xip", "copy", "saved"}, list(d)
assert d["xip"]["mode"] == "xip" and d["copy"]["mode"] == "copy"
assert d["saved"]["ram_peak"]["page_cache"] == 3 * 4096, d["saved"]
assert d["saved"]["ram_peak_total"] == d["copy"]["ram_peak_total"] - d["xip"]["ram_peak_total"]
EOF
python3 - "$T/chart.svg" <<'EOF' && ok "the SVG is well-formed" || fail "SVG"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag.endswith("svg"), root.tag
assert len(list(root.iter())) > 3
EOF
expect 1 "compare exits 1 on a mismatch" -- $CMP "$T/bad.trace"

# Parameters and CSV: every run records its own settings.
python3 - "$T/xip.json" <<'EOF' && ok "run JSON records its parameters" || fail "run JSON params"
import json, sys
d = json.load(open(sys.argv[1]))
p = d["params"]
assert p["mode"] == "xip" and p["machine"] == "sgimips" and p["ram"] == 64 << 20
assert p["swap"] == 0 and p["readahead"] == 0 and p["fault_ahead"] == 0
assert p["buffers"] == 16 and p["policy"] == "clock" and p["version"]
assert p["image"].endswith("/img") and p["trace"].endswith("clean.trace")
assert d["fits"] is True and d["oom"] == [] and d["oom_kills"] == 0
EOF
expect 0 "run --csv" -- $RUN --csv "$T/clean.trace"
python3 - "$T/out" <<'EOF' && ok "run --csv: a header and one row" || fail "run --csv"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 1 and rows[0]["mode"] == "xip" and rows[0]["fits"] == "true"
assert rows[0]["events"] == "12" and rows[0]["readahead"] == "0"
EOF
expect 0 "compare --csv" -- $CMP --csv "$T/clean.trace"
[ "$(wc -l <"$T/out")" -eq 3 ] || fail "compare --csv: not a header and two rows"
expect 2 "--json and --csv together" -- $RUN --json --csv "$T/clean.trace"

# Out of memory: 16 MiB written in a 512 KiB machine.  The process is
# killed (an oom event, not a mismatch), the run says it does not fit,
# and compare prints no saving.
cat >"$T/oom.trace" <<'EOF'
xipvm-trace 1
spawn 1 /bin/busybox
mmap 1 0x40000000 0x1000000 rw- private,fixed
w 1 0x40000000 0x1000000
r 1 0x40000000 4
exit 1
EOF
expect 0 "a run that does not fit exits 0" -- $RUN --ram 512K "$T/oom.trace"
grep -q "DOES NOT FIT" "$T/out" || fail "the summary does not say it does not fit"
grep -q "512 KiB" "$T/out" || fail "the summary does not say 512 KiB"
grep -q "oom: pid 1 killed at line 4" "$T/err" || fail "no oom message: $(cat "$T/err")"
expect 0 "run --json of it" -- $RUN --ram 512K --json "$T/oom.trace"
python3 - "$T/out" <<'EOF' && ok "JSON: fits false, the kill, events skipped" || fail "oom JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["fits"] is False and d["oom_kills"] == 1 and d["mismatches"] == 0
assert d["oom"] == [{"pid": 1, "event": 3, "line": 4}], d["oom"]
assert d["events_skipped"] == 2
EOF
expect 0 "compare --json of it" -- $CMP --ram 512K --json "$T/oom.trace"
python3 - "$T/out" <<'EOF' && ok "compare JSON: no saving" || fail "compare oom JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["saved"] is None and d["fits"] == {"xip": False, "copy": False}, d["fits"]
EOF
expect 0 "compare of it" -- $CMP --ram 512K "$T/oom.trace"
grep -q "no saving to report" "$T/out" || fail "compare prints a saving for runs that do not fit"
expect 0 "with swap it fits" -- $RUN --ram 512K --swap 32M --json "$T/oom.trace"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["fits"] and d["swap_outs"] > 0 and d["params"]["swap"] == 32 << 20' \
    "$T/out" || fail "--swap 32M does not make it fit"
expect 2 "a bad --swap" -- $RUN --swap 1000 "$T/oom.trace"

# fsinfo lists the file.
expect 0 "fsinfo" -- "$XIPVM" fsinfo "$T/img"
grep -q "/bin/busybox" "$T/out" || fail "fsinfo does not list /bin/busybox"

# convert: text <-> binary, by name or --to, and back to the same bytes
# (the writer's canonical text: decimal sizes, lower-case hex).
expect 0 "convert text to canonical text" -- "$XIPVM" convert "$T/clean.trace" "$T/canon.trace"
grep -q "^mmap 1 0x40000000 12288 rw- private,fixed$" "$T/canon.trace" || fail "canonical text: $(cat "$T/canon.trace")"
expect 0 "convert text to binary (by the name .xvt)" -- "$XIPVM" convert "$T/clean.trace" "$T/clean.xvt"
head -c 4 "$T/clean.xvt" | od -An -tx1 | grep -q "89 58 56 54" || fail "clean.xvt is not binary"
expect 0 "convert binary back to text" -- "$XIPVM" convert "$T/clean.xvt" "$T/back.trace"
cmp -s "$T/canon.trace" "$T/back.trace" || fail "text -> binary -> text changed the trace"
expect 0 "convert --to binary --compress none, to stdout" -- "$XIPVM" convert --to binary --compress none "$T/clean.trace" -
cp "$T/out" "$T/raw.bin"
expect 0 "convert from stdin" -- sh -c "\"$XIPVM\" convert - \"$T/back2.trace\" <\"$T/raw.bin\""
cmp -s "$T/canon.trace" "$T/back2.trace" || fail "raw binary from stdin changed the trace"
expect 0 "convert to .zst text" -- "$XIPVM" convert "$T/clean.xvt" "$T/back.trace.zst"
zstd -dc "$T/back.trace.zst" | cmp -s - "$T/canon.trace" || fail ".zst text differs"
expect 2 "convert --to binary --compress gzip is refused" -- "$XIPVM" convert --to binary --compress gzip "$T/clean.trace" "$T/x.xvt"
expect 2 "convert with one argument" -- "$XIPVM" convert "$T/clean.trace"
# A binary trace replays with the same figures as its text.
$RUN --json "$T/clean.trace" >"$T/text.json" 2>/dev/null
expect 0 "run a binary trace" -- $RUN --json "$T/clean.xvt"
python3 - "$T/text.json" "$T/out" <<'EOF2' || fail "binary and text replays differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    d.pop("timeline", None)
    d["params"].pop("trace")
assert a == b
EOF2
# A cut binary trace: an error naming the frame, and no output left.
n=$(wc -c <"$T/clean.xvt")
head -c $((n - 3)) "$T/clean.xvt" >"$T/cut.xvt"
expect 1 "a cut binary trace" -- $RUN "$T/cut.xvt"
grep -q "binary trace: frame at byte" "$T/err" || fail "no frame offset: $(cat "$T/err")"
expect 1 "converting a cut binary trace fails" -- "$XIPVM" convert "$T/cut.xvt" "$T/cut.trace"
[ ! -e "$T/cut.trace" ] || fail "a failed convert left its output"
# A NUL byte ends nothing: it is an error, with the line.
printf 'xipvm-trace 1\nspawn 1 /bin/busybox\nx 1 0x401000 16\000junk\n' >"$T/nul.trace"
expect 1 "a NUL byte in a line" -- $RUN "$T/nul.trace"
grep -q "line 3: NUL byte" "$T/err" || fail "no message for the NUL byte: $(cat "$T/err")"

# Marks: labels of any bytes make valid JSON; past 4096, a clear error,
# quickly and in little memory even for a million (a 10 KB .gz).
printf 'xipvm-trace 1\nspawn 1 /bin/busybox\nmark \377\303(\355\240\200ok\nmark caf\303\251\n' >"$T/marks.trace"
expect 0 "marks with labels that are not UTF-8" -- $RUN --json "$T/marks.trace"
python3 - "$T/out" <<'EOF2' || fail "marks' JSON is not valid"
import json, sys
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))
assert set(d["marks"]) == {"\u00ff\u00c3(\u00ed\u00a0\u0080ok", "caf\u00e9"}, d["marks"].keys()
EOF2
python3 -c '
import gzip, sys
with gzip.open(sys.argv[1], "wt") as f:
    f.write("xipvm-trace 1\n")
    for i in range(1000000):
        f.write("mark m%d\n" % i)' "$T/million.trace.gz"
expect 1 "a million marks" -- /usr/bin/time -f "%M" $RUN "$T/million.trace.gz"
grep -q "line 4098: more than 4096 marks" "$T/err" || fail "no message past the marks' bound: $(cat "$T/err")"
kb=$(tail -1 "$T/err")
[ "$kb" -lt 200000 ] || fail "a million marks took $kb KB"

# fsinfo of a directory with a corrupt record: the record's path and inode
# named, every other entry listed (all but the records after it in its
# 512-byte chunk, worked out here from the image's bytes), exit 1.
mkdir -p "$T/ctree/d"
for i in $(seq 100 139); do echo "$i" >"$T/ctree/d/entry_with_a_long_name_$i"; done
"$MAKEFS" -t ffs -M 1m -b 10% -o version=1,bsize=4096,fsize=512 "$T/corrupt.img" "$T/ctree" >/dev/null 2>&1 ||
    fail "makefs of ctree"
python3 - "$T/corrupt.img" "$T/expect" <<'EOF2' || fail "cannot corrupt the image"
import struct, sys
img = bytearray(open(sys.argv[1], "rb").read())
recs = {}
for i in range(100, 140):
    name = b"entry_with_a_long_name_%d" % i
    at = img.find(name)
    assert at > 0 and img.find(name, at + 1) < 0 and img[at - 1] == len(name)
    recs[name.decode()] = at - 8
# the third record of the first chunk holding some of them
chunk = min(r // 512 for r in recs.values())
mine = sorted((r, n) for n, r in recs.items() if r // 512 == chunk)
victim_at, victim = mine[2]
ino = struct.unpack_from("<I", img, victim_at)[0]
struct.pack_into("<H", img, victim_at + 4, 2)
open(sys.argv[1], "wb").write(img)
kept = sorted(n for n, r in recs.items() if not (r // 512 == chunk and r >= victim_at))
open(sys.argv[2], "w").write("%s %d\n" % (victim, ino) + "\n".join(kept) + "\n")
EOF2
expect 1 "fsinfo of an image with a corrupt directory record" -- "$XIPVM" fsinfo "$T/corrupt.img"
read -r victim ino <"$T/expect"
grep -q "corrupt.img: /d/$victim (inode $ino): corrupt directory entry" "$T/err" ||
    fail "the corrupt entry is not named: $(cat "$T/err")"
awk '$NF ~ /^\/d\// { sub("/d/", "", $NF); print $NF }' "$T/out" | sort >"$T/listed"
tail -n +2 "$T/expect" | cmp -s - "$T/listed" || fail "fsinfo does not list the intact rest"

# Usage errors: exit 2 with a message.
expect 2 "no command" -- "$XIPVM"
expect 2 "unknown command" -- "$XIPVM" frobnicate
grep -q "unknown command" "$T/err" || fail "no message for an unknown command"
expect 2 "run without --image" -- "$XIPVM" run "$T/clean.trace"
grep -q "image" "$T/err" || fail "no message about --image"
expect 2 "run without a trace" -- "$XIPVM" run --image "$T/img"
expect 2 "run with an unknown option" -- $RUN --bogus "$T/clean.trace"
grep -q "unknown option" "$T/err" || fail "no message for an unknown option"
expect 2 "run with a bad --readahead" -- $RUN --readahead many "$T/clean.trace"
expect 2 "compare from stdin" -- $CMP -
expect 2 "run refuses --svg (a compare option)" -- $RUN --svg "$T/run.svg" "$T/clean.trace"
expect 2 "compare refuses --copy (it runs both modes)" -- $CMP --copy "$T/clean.trace"
[ ! -e "$T/run.svg" ] || fail "run wrote an SVG"
expect 2 "run with an unknown --machine" -- $RUN --machine vax "$T/clean.trace"
grep -q "machine" "$T/err" || fail "no message about --machine"
expect 2 "run with a negative --ram" -- $RUN --ram " -1" "$T/clean.trace"
# Numbers are decimal or 0x hex: a leading zero does not mean octal.
expect 0 "--fault-ahead 08 is eight" -- $RUN --fault-ahead 08 "$T/clean.trace"
expect 0 "--ram 0100M" -- $RUN --ram 0100M --json "$T/clean.trace"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ram_pages"] == 25600, d["ram_pages"]' \
    "$T/out" || fail "--ram 0100M is not 100 MiB"
expect 2 "fsinfo without an image" -- "$XIPVM" fsinfo
# Each profile's most RAM: named when passed.
expect 1 "--machine sgimips --ram 4G is past its maximum" -- $RUN --machine sgimips --ram 4G "$T/clean.trace"
grep -q "the sgimips profile has at most 3G of RAM" "$T/err" || fail "no message naming the maximum: $(cat "$T/err")"
expect 0 "--machine sgimips --ram 3G, the maximum" -- $RUN --machine sgimips --ram 3G "$T/clean.trace"

# Bad images and traces: a clear error, exit 1.
expect 1 "a missing image" -- "$XIPVM" run --image "$T/nothere" "$T/clean.trace"
grep -q "nothere" "$T/err" || fail "no message naming the missing image"
head -c 1048576 /dev/zero >"$T/zeros.img"
expect 1 "a non-FFS image" -- "$XIPVM" run --image "$T/zeros.img" "$T/clean.trace"
grep -q "not a valid FFS image" "$T/err" || fail "no message for a non-FFS image"
expect 1 "fsinfo of a non-FFS image" -- "$XIPVM" fsinfo "$T/zeros.img"
expect 1 "a missing trace" -- $RUN "$T/nothere.trace"
printf 'xipvm-trace 1\nspawn 1 /bin/busybox\nbogus 1\n' >"$T/malformed.trace"
expect 1 "a malformed trace" -- $RUN "$T/malformed.trace"
grep -q "line 3" "$T/err" || fail "the malformed line is not named"
# A directory is no file to map: EACCES, as for spawn and exec.
printf 'xipvm-trace 1\nspawn 1 /bin/busybox\nmmap 1 0x40000000 0x1000 r-- private /bin 0\n' \
    >"$T/dir.trace"
expect 1 "mapping a directory is a mismatch" -- $RUN "$T/dir.trace"
grep -q "line 3: expected success, got EACCES" "$T/err" ||
    fail "the mismatch does not say which error: $(cat "$T/err")"
# Errors leave nothing behind (AddressSanitizer builds report leaks).
"$XIPVM" run --image "$T/nothere" "$T/clean.trace" >/dev/null 2>"$T/err.missing-image"
$RUN "$T/nothere.trace" >/dev/null 2>"$T/err.missing-trace"
$RUN "$T/malformed.trace" >/dev/null 2>"$T/err.malformed"
$CMP "$T/malformed.trace" >/dev/null 2>"$T/err.cmp-malformed"
for f in missing-image missing-trace malformed cmp-malformed; do
    if grep -q "LeakSanitizer" "$T/err.$f"; then fail "run leaks on error ($f)"; else ok "no leak ($f)"; fi
done

finish
