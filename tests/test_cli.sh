#!/bin/sh
# The xipvm command end to end: exit statuses, --json keys, compare's JSON
# and SVG, gzip/zstd/stdin input giving the same figures, fsinfo, usage
# and image errors.  Usage: test_cli.sh PATH-TO-xipvm
NAME=test_cli TOOLS="python3 gzip zstd valgrind pgrep"
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
flash_xip_bytes_read pv_entries_peak soft_tlb_hits soft_tlb_misses tlb_misses
cycles time_ns i1_refs i1_misses d1_refs d1_misses ll_misses stall_ns_flash
stall_ns_ram marks timeline"

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
# Per file: busybox's header page (exec's read, then the r), the text page
# fetched, the page under the start of bss (exec's copy-on-write); one
# process mapped it; in place under XIP, cached in copy mode.
f = d["files"]["/bin/busybox"]
assert f["pages_touched"] == 3 and f["processes"] == 1, f
assert f["pages_copied"] == 1 and f["text_pages_copied"] == 0, f
assert f["file_pages"] == (f["size"] + 4095) // 4096 and f["textrel"] == 0, f
if mode == "copy":
    assert f["pages_cached"] == 3 and f["pages_in_place"] == 0, f
else:
    assert f["pages_in_place"] == 3 and f["pages_cached"] == 0, f
EOF
}
expect 0 "run --json (xip)" -- $RUN --json "$T/clean.trace"
cp "$T/out" "$T/xip.json"
check_json "$T/xip.json" xip && ok "xip JSON has every key and the expected pages"
# Several TRACEs at once: params.traces names them all, in order (trace
# the first), and the CSV's trace field each on a line of its own.
cp "$T/clean.trace" "$T/second.trace"
expect 0 "run --json of two traces" -- $RUN --json "$T/clean.trace" "$T/second.trace"
python3 - "$T/out" "$T/clean.trace" "$T/second.trace" <<'EOF' && ok "params.traces names both traces" ||
import json, sys
p = json.load(open(sys.argv[1]))["params"]
assert p["traces"] == sys.argv[2:4] and p["trace"] == sys.argv[2], p
EOF
    fail "params.traces of two traces"
expect 0 "run --csv of two traces" -- $RUN --csv "$T/clean.trace" "$T/second.trace"
python3 - "$T/out" "$T/clean.trace" "$T/second.trace" <<'EOF' && ok "the CSV trace field holds both" ||
import csv, sys
head, row = list(csv.reader(open(sys.argv[1], newline="")))
assert row[head.index("trace")] == "\n".join(sys.argv[2:4]), row
EOF
    fail "the CSV trace field of two traces"
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
for f in d["files"].values():
    keys |= set(f)
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
# By kind, the share of copy's peak saved (the text's % column).
pc = d["saved"]["ram_peak_percent"]
assert pc["page_cache"] == 100 and pc["aobj"] == 0, pc
assert d["saved"]["ram_peak_total"] == d["copy"]["ram_peak_total"] - d["xip"]["ram_peak_total"]
# What XIP costs, beside what it saves: its time over copy mode's.
x, c = d["xip"]["time_ns"], d["copy"]["time_ns"]
assert abs(d["slowdown"] - x / c) < 1e-3, (d["slowdown"], x, c)
for m in (d["xip"], d["copy"]):
    parts = ("time_ns_exec", "stall_ns_ram", "stall_ns_flash", "time_ns_tlb", "time_ns_kernel")
    assert sum(m[k] for k in parts) == m["time_ns"], m
    assert m["flash_ns"] == m["stall_ns_flash"] + m["flash_block_ns"]
EOF
python3 - "$T/chart.svg" <<'EOF' && ok "the SVG is well-formed" || fail "SVG"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag.endswith("svg"), root.tag
assert len(list(root.iter())) > 3
text = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
assert "XIP saves" in text and "the time of copy mode" in text, text
EOF
expect 1 "compare exits 1 on a mismatch" -- $CMP "$T/bad.trace"

# The CPU model's options and profiles (doc/time-model.md).
expect 0 "compare (text) says RAM saved and slowdown" -- $CMP "$T/clean.trace"
grep -q "^XIP saves .* KiB of RAM at peak .* and takes .*x the time of copy mode" "$T/out" ||
    fail "compare's text has no saving-and-slowdown line"
grep -q "slowdown (xip / copy)" "$T/out" || fail "compare's text has no slowdown row"
# A profile of zero costs and no events: copy mode takes no time, and
# 0/0 is no ratio (null, and no number in the text).
"$XIPVM" profiles sgimips | sed -e 's/^block_access_ns = .*/block_access_ns = 0/' \
    -e 's/^block_byte_ns = .*/block_byte_ns = 0/' >"$T/free.cpu"
printf 'xipvm-trace 1\n' >"$T/quiet.trace"
expect 0 "compare --json of no events at no cost" -- $CMP --cpu "$T/free.cpu" --json "$T/quiet.trace"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
assert d["copy"]["time_ns"] == 0 and d["slowdown"] is None, d["slowdown"]' \
    "$T/out" && ok "0/0 is no slowdown in JSON" || fail "0/0 slowdown in JSON"
expect 0 "compare of no events at no cost" -- $CMP --cpu "$T/free.cpu" --svg "$T/free.svg" "$T/quiet.trace"
! grep -q "0\.000x\|slowdown (xip / copy)" "$T/out" "$T/free.svg" ||
    fail "0/0 printed as a slowdown: $(grep -h 'x the time' "$T/out" "$T/free.svg")"
# params tell an edited --cpu FILE from the file before it (cpu_hash, of
# its text: the built-in's text hashes as the built-in); they were equal.
"$XIPVM" profiles sgimips >"$T/prof.cpu"
expect 0 "run --cpu FILE" -- $RUN --cpu "$T/prof.cpu" --json "$T/clean.trace"
mv "$T/out" "$T/prof1.json"
sed 's/^clock_mhz *=.*/clock_mhz = 50/' "$T/prof.cpu" >"$T/prof2.cpu" &&
    mv "$T/prof2.cpu" "$T/prof.cpu"
expect 0 "run --cpu FILE, edited" -- \
    $RUN --cpu "$T/prof.cpu" --json "$T/clean.trace"
mv "$T/out" "$T/prof2.json"
expect 0 "run on the built-in" -- $RUN --json "$T/clean.trace"
mv "$T/out" "$T/prof0.json"
expect 0 "run --cpu FILE --csv" -- \
    $RUN --cpu "$T/prof.cpu" --csv "$T/clean.trace"
python3 - "$T" <<'END' && ok "params name the profile's text" || fail "cpu_hash"
import csv, json, sys
d = [json.load(open(sys.argv[1] + "/prof%d.json" % i)) for i in range(3)]
p = [x["params"] for x in d]
assert p[1]["cpu"] == p[2]["cpu"] and d[1]["time_ns"] != d[2]["time_ns"]
assert p[1]["cpu_hash"] != p[2]["cpu_hash"], p
assert p[0]["cpu_hash"] == p[1]["cpu_hash"] and len(p[0]["cpu_hash"]) == 16
row = next(csv.DictReader(open(sys.argv[1] + "/out")))
assert row["cpu_hash"] == p[2]["cpu_hash"], row
END
expect 0 "profiles lists the built-ins" -- "$XIPVM" profiles
for p in sgimips amd64 cortex-a7; do
    grep -q "^  $p " "$T/out" || fail "profiles does not list $p"
done
# Each with its file's first sentence whole, wrapped: not cut at the end
# of the first comment line.
python3 - "$T/out" "$(dirname "$0")/../src/cpu/profiles" <<'PY' && ok "profiles gives each first sentence" || fail "profiles cuts the descriptions: $(cat "$T/out")"
import re, sys
listing = open(sys.argv[1]).read().split("\n", 2)[2]
for name, desc in re.findall(r"^  (\S+) +(.*?)(?=^  \S|\Z)", listing, re.M | re.S):
    head = []
    for line in open("%s/%s.cpu" % (sys.argv[2], name)):
        if not line.startswith("#") or line.strip() == "#":
            break
        head.append(line[1:].strip())
    text = " ".join(head)[len(name) + 2:]
    want = re.match(r".*?\.(?=\s|$)", text).group(0)
    assert " ".join(desc.split()) == want, (name, desc, want)
PY
for p in sgimips amd64 cortex-a7; do
    expect 0 "profiles $p prints the installed file" -- "$XIPVM" profiles $p
    cmp -s "$T/out" "$(dirname "$0")/../src/cpu/profiles/$p.cpu" ||
        fail "profiles $p differs from src/cpu/profiles/$p.cpu"
done
"$XIPVM" profiles sgimips >"$T/my.cpu"
grep -q "^clock_mhz = 180" "$T/my.cpu" || fail "the sgimips file has no clock"
expect 2 "profiles of an unknown name" -- "$XIPVM" profiles vax
expect 0 "run --cpu FILE (a copied built-in) gives the built-in's figures" -- \
    $RUN --json --cpu "$T/my.cpu" "$T/clean.trace"
python3 -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:3]); assert a["time_ns"] == b["time_ns"] and a["cycles"] == b["cycles"], (a["time_ns"], b["time_ns"])' \
    "$T/out" "$T/xip.json" || fail "--cpu with the copied file changes the figures"
sed 's/^clock_mhz = 180/clock_mhz = 360/' "$T/my.cpu" >"$T/fast.cpu"
expect 0 "run --cpu with the clock doubled" -- $RUN --json --cpu "$T/fast.cpu" "$T/clean.trace"
python3 -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:3]); assert abs(2 * a["time_ns_exec"] - b["time_ns_exec"]) <= 2, (a["time_ns_exec"], b["time_ns_exec"])' \
    "$T/out" "$T/xip.json" || fail "doubling clock_mhz does not halve the execution time"
expect 0 "run --cpu cortex-a7 (a built-in by name)" -- $RUN --cpu cortex-a7 "$T/clean.trace"
grep -q "CPU cortex-a7" "$T/out" || fail "the summary does not name the CPU"
expect 0 "run --no-cache" -- $RUN --json --no-cache "$T/clean.trace"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["i1_misses"] == 0 and d["tlb_misses"] == 0 and d["i1_refs"] > 0 and d["stall_ns_flash"] > 0, d' \
    "$T/out" || fail "--no-cache: no misses, every access to memory"
expect 0 "run with cachegrind-style geometry" -- $RUN --json --I1=16384,4,32 --D1=8K,2,64 --LL=none "$T/clean.trace"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ll_misses"] == 0 and d["i1_refs"] > 0, d' \
    "$T/out" || fail "--LL=none still has LL misses"
expect 0 "run --superpages" -- $RUN --superpages "$T/clean.trace"
# Bad input: exit 2, the option or key named, nothing run.
expect 2 "a line size that is not a power of two" -- $RUN --D1=32768,8,48 "$T/clean.trace"
grep -q -- "--D1: line size 48 is not a power of two" "$T/err" || fail "bad --D1 not named: $(cat "$T/err")"
expect 2 "ways times line that do not divide the size" -- $RUN --I1=40000,8,64 "$T/clean.trace"
grep -q -- "--I1: .*does not divide" "$T/err" || fail "bad --I1 not named: $(cat "$T/err")"
expect 2 "a set count that is not a power of two" -- $CMP --LL=3145728,8,64 "$T/clean.trace"
grep -q -- "--LL: set count" "$T/err" || fail "bad --LL not named: $(cat "$T/err")"
# --L2, cachegrind's older name for --LL (doc/cpu-model.md): the same
# level, the same errors under its own name.
expect 0 "run --L2=none" -- $RUN --json --L2=none "$T/clean.trace"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ll_misses"] == 0 and d["i1_refs"] > 0, d' \
    "$T/out" || fail "--L2=none still has LL misses"
expect 2 "a bad --L2" -- $RUN --L2 3145728,8,64 "$T/clean.trace"
grep -q -- "--L2: set count" "$T/err" || fail "bad --L2 not named: $(cat "$T/err")"
[ -s "$T/out" ] && fail "a refused compare printed figures" || ok "a refused compare prints nothing"
sed 's/^clock_mhz = 180/clock_mhz = 0/' "$T/my.cpu" >"$T/zero.cpu"
expect 2 "a zero clock" -- $RUN --cpu "$T/zero.cpu" "$T/clean.trace"
grep -q "zero.cpu:[0-9]*: clock_mhz: a zero clock" "$T/err" || fail "zero clock not named: $(cat "$T/err")"
printf 'icache_ways = 4\n' >>"$T/my.cpu"
expect 2 "an unknown profile key" -- $RUN --cpu "$T/my.cpu" "$T/clean.trace"
grep -q "my.cpu:[0-9]*: icache_ways: unknown key" "$T/err" || fail "unknown key not named: $(cat "$T/err")"
expect 2 "a --cpu that is no file and no built-in" -- $RUN --cpu "$T/none.cpu" "$T/clean.trace"
grep -q "none.cpu" "$T/err" || fail "the missing profile is not named"

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
# The CPU options and --slice change figures: params records them.
expect 0 "run --json with CPU options" -- $RUN --json --I1=16384,2,32 \
    --LL none --no-cache --superpages --slice 7 "$T/clean.trace"
python3 - "$T/out" <<'EOF' && ok "params records the CPU options" ||
import json, sys
p = json.load(open(sys.argv[1]))["params"]
assert p["i1"] == "16384,2,32" and p["d1"] == "profile" and p["ll"] == "none", p
assert p["no_cache"] is True and p["superpages"] == "on" and p["slice"] == 7, p
EOF
    fail "params of the CPU options"
expect 0 "run --csv with CPU options" -- $RUN --csv --D1=8192,2,32 \
    --no-superpages "$T/clean.trace"
python3 - "$T/out" <<'EOF' && ok "the CSV records the CPU options" ||
import csv, sys
row = list(csv.DictReader(open(sys.argv[1], newline="")))[0]
assert row["d1"] == "8192,2,32" and row["i1"] == "profile", row
assert row["no_cache"] == "false" and row["superpages"] == "off", row
assert row["slice"] == "10000", row
EOF
    fail "the CSV of the CPU options"
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
assert d["oom"] == [{"pid": 1, "event": 3, "line": 4, "trace": 1,
                     "pid_trace": 1, "trace_pid": 1}], d["oom"]
assert d["events_skipped"] == 2
EOF
# Several TRACEs: a kill names the trace of its line, and the killed
# process's own trace and pid (the machine's pid is renumbered).
expect 0 "run --json of a trace that fits and one that does not" -- \
    $RUN --ram 512K --json "$T/clean.trace" "$T/oom.trace"
python3 - "$T/out" <<'EOF' && ok "the oom entry names its trace" ||
import json, sys
(o,) = json.load(open(sys.argv[1]))["oom"]
assert o["trace"] == 2 and o["pid_trace"] == 2 and o["trace_pid"] == 1, o
assert o["pid"] == 3 and o["line"] == 4, o
EOF
    fail "the oom entry of two traces"
o="$T/oom.trace"
grep -q "oom: pid 1 of $o (pid 3 here) killed at line 4 of $o" "$T/err" ||
    fail "the oom message does not name the trace: $(cat "$T/err")"
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

# A name with a newline (or a tab) is one line, escaped as a trace writes
# it; it was printed raw, splitting the entry in two lines.
mkdir -p "$T/oddnames" || exit 1
printf x >"$T/oddnames/a
b" && printf y >"$T/oddnames/t	c" || exit 1
"$MAKEFS" -t ffs -M 1m -B little -o version=2,bsize=32768,fsize=4096 \
    "$T/oddnames.img" "$T/oddnames" >/dev/null 2>&1 ||
    { echo "FAIL: makefs failed" >&2; exit 1; }
expect 0 "fsinfo of odd names" -- "$XIPVM" fsinfo "$T/oddnames.img"
[ "$(wc -l <"$T/out")" -eq 5 ] && grep -q ' /a\\x0ab$' "$T/out" &&
    grep -q ' /t\\x09c$' "$T/out" ||
    fail "fsinfo does not escape names: $(cat "$T/out")"

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
# gzip's levels are 1 to 9: a usage error, not "out of memory".
expect 2 "convert --level 10 to gzip is refused" -- "$XIPVM" convert --level 10 "$T/clean.trace" "$T/x.gz"
grep -q "1 to 9 for gzip" "$T/err" || fail "no message for gzip's level: $(cat "$T/err")"
[ ! -e "$T/x.gz" ] || fail "a refused convert left its output"
expect 0 "convert --level 9 to gzip" -- "$XIPVM" convert --level 9 "$T/clean.trace" "$T/x.gz"
# A binary trace replays with the same figures as its text.
$RUN --json "$T/clean.trace" >"$T/text.json" 2>/dev/null
expect 0 "run a binary trace" -- $RUN --json "$T/clean.xvt"
python3 - "$T/text.json" "$T/out" <<'EOF2' || fail "binary and text replays differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    d.pop("timeline", None)
    d["params"].pop("trace"), d["params"].pop("traces")
assert a == b
EOF2
# A cut binary trace: an error naming the frame, and no output left.
n=$(wc -c <"$T/clean.xvt")
head -c $((n - 3)) "$T/clean.xvt" >"$T/cut.xvt"
expect 1 "a cut binary trace" -- $RUN "$T/cut.xvt"
grep -q "binary trace: frame at byte" "$T/err" || fail "no frame offset: $(cat "$T/err")"
expect 1 "converting a cut binary trace fails" -- "$XIPVM" convert "$T/cut.xvt" "$T/cut.trace"
[ ! -e "$T/cut.trace" ] || fail "a failed convert left its output"
# On standard output a failed convert stops without its end (the binary
# form's end frame, a zstd stream's end): it wrote them, and what came out
# read as a whole trace, shorter by the events after the fault.
{ cat "$T/clean.trace"; echo "bogus line"; } >"$T/badend.trace"
for form in "binary" "text --compress zstd"; do
    expect 1 "convert --to $form of a bad trace to stdout" -- \
        "$XIPVM" convert --to $form "$T/badend.trace" -
    cp "$T/out" "$T/badend.out"
    expect 1 "what it wrote to stdout is not a whole trace ($form)" -- \
        "$XIPVM" convert "$T/badend.out" "$T/badend.back"
done
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

# run on an image with a corrupt record the trace never uses: the replay
# stands (exit 0, its report, busybox in it) and the record is named as
# fsinfo names it.  The per-file report's walk met the record: run failed
# with a bare "xipvm: Invalid argument", no report, exit 1.
mkdir -p "$T/dtree/unused" && cp -r "$T/tree/bin" "$T/dtree/" &&
    echo data >"$T/dtree/unused/somefile" ||
    fail "cannot make dtree"
"$MAKEFS" -t ffs -M 1m -b 10% -B little -o version=2,bsize=32768,fsize=4096 \
    "$T/damaged.img" "$T/dtree" >/dev/null 2>&1 || fail "makefs of dtree"
python3 - "$T/damaged.img" <<'EOF2' || fail "cannot damage the image"
import sys
img = bytearray(open(sys.argv[1], "rb").read())
at = img.find(b"\x08\x08somefile")  # d_type, d_namlen, d_name
assert at > 0 and img.find(b"somefile", at + 3) < 0
img[at + 1] = 0  # a name of length 0: a corrupt record
open(sys.argv[1], "wb").write(img)
EOF2
RUND="$XIPVM run --image $T/damaged.img --fault-ahead 0 --readahead 0"
expect 0 "run on an image with a corrupt record it never uses" -- \
    $RUND --json "$T/clean.trace"
grep -q "damaged.img: /unused/.*corrupt directory entry" "$T/err" ||
    fail "the corrupt record is not named: $(cat "$T/err")"
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["mismatches"] == 0, d["mismatches"]
assert d["files"]["/bin/busybox"]["pages_touched"] > 0, d["files"]' \
    "$T/out" || fail "run on a damaged image: no per-file report"

# A corrupt block pointer of the program the trace runs: the mismatches
# (EINVAL) come with the file named, as fsinfo names it.  It was only
# "mismatch: line 2: expected success, got EINVAL".
python3 - "$T/img" "$T/badmap.img" <<'EOF2' || fail "cannot damage the map"
import struct, sys
img = bytearray(open(sys.argv[1], "rb").read())
# the superblock: at 65536, or where makefs put it for big blocks
sb = next(o for o in (65536, 8192)
          if struct.unpack_from("<I", img, o + 1372)[0] == 0x19540119)
g = lambda off: struct.unpack_from("<i", img, sb + off)[0]
fsize, frag, iblkno = g(52), g(56), g(16)
inopb, ipg, fpg = g(120), g(184), g(188)
at = img.find(b"\x08\x07busybox")  # d_type, d_namlen, d_name
ino = struct.unpack_from("<I", img, at - 6)[0]
blk = fpg * (ino // ipg) + iblkno + (ino % ipg) // inopb * frag
dinode = blk * fsize + ino % inopb * 256
struct.pack_into("<q", img, dinode + 112, 1 << 40)  # di_db[0]: off the fs
open(sys.argv[2], "wb").write(img)
open(sys.argv[2] + ".ino", "w").write("%d\n" % ino)
EOF2
expect 1 "run whose program has a corrupt block map" -- \
    "$XIPVM" run --image "$T/badmap.img" "$T/clean.trace"
ino=$(cat "$T/badmap.img.ino")
grep -q "badmap.img: /bin/busybox (inode $ino): bad block map" "$T/err" ||
    fail "the file with a bad block map is not named: $(cat "$T/err")"

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
# A RAM that is not whole pages is a bad value: a usage error, as a bad
# --swap is (it was exit 1, "unknown profile, bad RAM size ...").
expect 2 "run with a --ram of 5000 bytes" -- $RUN --ram 5000 "$T/clean.trace"
grep -q "whole 4 KiB pages" "$T/err" || fail "no message for --ram 5000: $(cat "$T/err")"
# Numbers are decimal or 0x hex: a leading zero does not mean octal.
expect 0 "--fault-ahead 08 is eight" -- $RUN --fault-ahead 08 "$T/clean.trace"
expect 0 "--ram 0100M" -- $RUN --ram 0100M --json "$T/clean.trace"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ram_pages"] == 25600, d["ram_pages"]' \
    "$T/out" || fail "--ram 0100M is not 100 MiB"
expect 2 "fsinfo without an image" -- "$XIPVM" fsinfo
# Each profile's most RAM: named when passed.
expect 1 "--machine sgimips --ram 4G is past its maximum" -- $RUN --machine sgimips --ram 4G "$T/clean.trace"
grep -q "the sgimips profile has at most 3 GiB of RAM" "$T/err" || fail "no message naming the maximum: $(cat "$T/err")"
expect 0 "--machine sgimips --ram 3G, the maximum" -- $RUN --machine sgimips --ram 3G "$T/clean.trace"
# The least RAM: 4 pages, named when passed.
printf 'xipvm-trace 1\n' >"$T/noevents.trace"
expect 1 "--ram 12K is below the least" -- $RUN --ram 12K "$T/noevents.trace"
grep -q "at least 16 KiB" "$T/err" || fail "no message naming the least RAM: $(cat "$T/err")"
expect 0 "--ram 16K, the least" -- $RUN --ram 16K "$T/noevents.trace"
# The manual's range for --ram is the one run takes.
python3 -c 'import re, sys
s = re.sub(r"\s+", " ", open(sys.argv[1]).read())
m = re.search(r"(?:from (\S+) \(4 pages\) )?(?:at most|to) (\S+) on sgimips", s)
print(m.group(1) or "16K", m.group(2))' "$(dirname "$0")/../doc/xipvm.1" \
    >"$T/range" || fail "doc/xipvm.1 does not give --ram's range"
read -r least most <"$T/range"
expect 0 "--ram $least, the manual's least" -- $RUN --ram "$least" "$T/noevents.trace"
expect 0 "--ram $most on sgimips, the manual's most" -- $RUN --ram "$most" "$T/noevents.trace"

# Bad images and traces: a clear error, exit 1.
expect 1 "a missing image" -- "$XIPVM" run --image "$T/nothere" "$T/clean.trace"
grep -q "nothere" "$T/err" || fail "no message naming the missing image"
head -c 1048576 /dev/zero >"$T/zeros.img"
expect 1 "a non-FFS image" -- "$XIPVM" run --image "$T/zeros.img" "$T/clean.trace"
grep -q "not an FFS image" "$T/err" || fail "no message for a non-FFS image"
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


# ---- Several traces at once ----
expect 0 "run two traces at once" -- $RUN --json --slice 3 "$T/clean.trace" "$T/clean.trace"
python3 - "$T/out" <<'EOF' && ok "two traces: events add up, pids and marks apart" || fail "two traces"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["events"] == 24 and d["mismatches"] == 0, (d["events"], d["mismatches"])
assert set(d["marks"]) == {"1:middle", "1:end", "2:middle", "2:end"}, list(d["marks"])
assert d["files"]["/bin/busybox"]["processes"] == 2
EOF
expect 0 "compare two traces at once" -- $CMP "$T/clean.trace" "$T/clean.trace.gz"
expect 2 "a bad --slice" -- $RUN --slice 0 "$T/clean.trace"
expect 2 "standard input twice" -- $RUN - -

# ---- Escapes: version 2 strings; version 1 traces read as before ----
printf 'xipvm-trace 2\nspawn 1 /bin/busybox a\\qb\n' >"$T/badesc.trace"
expect 1 "a bad escape" -- $RUN "$T/badesc.trace"
grep -q "line 2: bad escape" "$T/err" || fail "the bad escape's line is not named"
printf 'xipvm-trace 1\nspawn 1 /bin/busybox a\\qb\n' >"$T/v1.trace"
expect 0 "a version 1 trace keeps its backslashes" -- $RUN "$T/v1.trace"
printf 'xipvm-trace 2\nspawn 1 /bin/busybox two\\x20words \\e\n' >"$T/v2.trace"
expect 0 "a version 2 trace with escaped arguments" -- $RUN "$T/v2.trace"

# ---- record: a process tree, its files, an image ----
BB=/bin/busybox
export LC_ALL=C
expect 0 "record a process tree into .zst with --root" -- "$XIPVM" record \
    --root "$T/root" -o "$T/tree.trace.zst" -- $BB sh -c \
    'echo "two words" | /bin/busybox cat >/dev/null; /bin/busybox true'
[ "$(head -c 4 "$T/tree.trace.zst" | od -An -tx1 | tr -d ' \n')" = 28b52ffd ] ||
    fail "record -o x.zst is not zstd"
zstd -q -dc "$T/tree.trace.zst" >"$T/tree.trace" || fail "the recorded .zst"
sed -n 2p "$T/tree.trace" | grep -qF 'spawn 1 /bin/busybox sh -c echo\x20"two\x20words"\x20|' ||
    fail "the spawn line does not carry the argument: $(sed -n 2p "$T/tree.trace")"
[ "$(grep -c '^fork ' "$T/tree.trace")" -ge 2 ] || fail "no forks in the trace"
[ "$(grep -c '^exec ' "$T/tree.trace")" -ge 2 ] || fail "no execs in the trace"
[ "$(grep -c '^exit ' "$T/tree.trace")" -eq "$(($(grep -c '^fork ' "$T/tree.trace") + 1))" ] ||
    fail "not every process exits"
[ -f "$T/root/usr/bin/busybox" ] && [ -L "$T/root/bin" ] || fail "--root did not copy busybox"
expect 0 "mkimage of the root" -- "$XIPVM" mkimage "$T/root" "$T/tree.img"
expect 0 "compare on the recorded tree" -- "$XIPVM" compare --image "$T/tree.img" --json "$T/tree.trace.zst"
python3 - "$T/out" <<'EOF' && ok "the tree replays in both modes" || fail "tree replay"
import json, sys
d = json.load(open(sys.argv[1]))
for m in ("xip", "copy"):
    assert d[m]["mismatches"] == 0
    assert d[m]["files"]["/usr/bin/busybox"]["processes"] >= 3, d[m]["files"]
assert d["saved"]["ram_peak_total"] > 0
EOF
expect 0 "record into .gz" -- "$XIPVM" record -o "$T/true.trace.gz" -- $BB true
[ "$(head -c 2 "$T/true.trace.gz" | od -An -tx1 | tr -d ' \n')" = 1f8b ] ||
    fail "record -o x.gz is not gzip"
# Binary straight from the record: the same events as the text the same
# logs import to.
expect 0 "record into .xvt" -- "$XIPVM" record --keep-logs "$T/logs" \
    -o "$T/true.xvt" -- $BB sh -c '/bin/busybox true; /bin/busybox true'
[ "$(head -c 8 "$T/true.xvt" | od -An -tx1 | tr -d ' \n')" = 895856540d0a1a0a ] ||
    fail "record -o x.xvt is not a binary trace"
expect 0 "import-lackey the kept logs into .xvt" -- "$XIPVM" import-lackey \
    -o "$T/imported.xvt" "$T/logs"
cmp -s "$T/true.xvt" "$T/imported.xvt" || fail "record and import-lackey wrote different .xvt"
expect 0 "import-lackey the kept logs as text" -- "$XIPVM" import-lackey "$T/logs"
cp "$T/out" "$T/imported.trace"
# Run from a directory removed under it, where the root process's cwd
# (getcwd) cannot be known: a clear error and no trace, not a crash.
set -- "$T"/logs/*
mkdir "$T/gone"
expect 1 "import-lackey of one log from a removed directory" -- \
    sh -c 'cd "$1" && rmdir "$1" && exec "$2" import-lackey --exec /bin/busybox \
        -o "$3" "$4"' sh "$T/gone" "$XIPVM" "$T/gone.trace" "$1"
grep -q "getcwd: No such file or directory" "$T/err" ||
    fail "no getcwd error in: $(cat "$T/err")"
[ ! -e "$T/gone.trace" ] || fail "a failed import left a file"
expect 0 "convert the recorded .xvt to text" -- "$XIPVM" convert "$T/true.xvt" "$T/true.txt"
cmp -s "$T/true.txt" "$T/imported.trace" && ok "record -o x.xvt holds the events of the text import" ||
    fail "the recorded .xvt and the text import differ"
# OUT may be IN: written aside and renamed, never truncated before the read.
cp "$T/true.xvt" "$T/same.xvt"
expect 0 "convert a trace onto itself" -- "$XIPVM" convert "$T/same.xvt" "$T/same.xvt"
cmp -s "$T/same.xvt" "$T/true.xvt" || fail "convert IN IN changed or lost the trace"
# A FIFO named as OUT is written in place: still a FIFO, never removed or
# replaced by a file (nor would a device such as /dev/null be).
mkfifo "$T/fifo"
for c in "convert:convert $T/true.xvt" "import-lackey:import-lackey -o" \
         "synth:synth text-walk --exec /bin/busybox --events 1000 -o"; do
    what=${c%%:*}; args=${c#*:}
    rm -f "$T/from-fifo"
    timeout 60 cat "$T/fifo" >"$T/from-fifo" &
    reader=$!
    if [ "$what" = import-lackey ]; then
        expect 0 "$what into a FIFO" -- "$XIPVM" $args "$T/fifo" "$T/logs"
    else
        expect 0 "$what into a FIFO" -- "$XIPVM" $args "$T/fifo"
    fi
    if [ ! -p "$T/fifo" ]; then
        fail "$what replaced the FIFO"
        kill $reader # its FIFO gets no writer now
        rm -f "$T/fifo" && mkfifo "$T/fifo"
    fi
    wait $reader
    [ "$(head -c 13 "$T/from-fifo")" = "xipvm-trace 2" ] ||
        fail "$what wrote no trace into the FIFO"
done
# synth's -o takes its form from the name, as record's and convert's do
# (it wrote plain text into x.xvt and x.gz).
S="synth text-walk --exec /bin/busybox --events 1000"
expect 0 "synth -o x.trace" -- "$XIPVM" $S -o "$T/synth.trace"
expect 0 "synth -o x.xvt" -- "$XIPVM" $S -o "$T/synth.xvt"
expect 0 "synth -o x.gz" -- "$XIPVM" $S -o "$T/synth.gz"
[ "$(head -c 4 "$T/synth.xvt" | od -An -tx1 | tr -d ' ')" = 89585654 ] ||
    fail "synth -o x.xvt did not write the binary form"
[ "$(head -c 2 "$T/synth.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ] ||
    fail "synth -o x.gz did not write gzip"
"$XIPVM" convert "$T/synth.xvt" - 2>/dev/null | cmp -s - "$T/synth.trace" &&
    gzip -dc "$T/synth.gz" | cmp -s - "$T/synth.trace" &&
    ok "synth writes the same events in every form" ||
    fail "synth's forms hold different events"
# A report lost to a full device is a failure, said on standard error.
for args in "profiles" "--help" "--version" "run --image $T/img $T/true.xvt"; do
    "$XIPVM" $args >/dev/full 2>"$T/err"
    st=$?
    [ $st -eq 1 ] && grep -q "standard output: No space left on device" "$T/err" &&
        ok "xipvm $args >/dev/full exits 1" ||
        fail "xipvm $args >/dev/full: exit $st, $(cat "$T/err")"
done
# The binary replay runs its accesses in batches (xvm_access_batch), the
# text one by one: a real program's figures and timeline must agree.
$RUN --json "$T/true.txt" >"$T/true-text.json" 2>/dev/null
expect 0 "run the recorded .xvt" -- $RUN --json "$T/true.xvt"
python3 - "$T/true-text.json" "$T/out" <<'EOF2' || fail "batched binary and text replays differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    d["params"].pop("trace"), d["params"].pop("traces")
assert a["events"] > 10000 and len(a["timeline"]) > 100, (a["events"], len(a["timeline"]))
assert a == b
EOF2
[ "$(grep -c '^fork ' "$T/imported.trace")" -ge 1 ] || fail "no fork in the recorded tree"
expect 1 "record of a missing program" -- "$XIPVM" record -o "$T/none.trace" -- /nonexistent/prog
[ ! -e "$T/none.trace" ] || fail "a failed record left a file"
expect 2 "mkimage with a bad --bsize" -- "$XIPVM" mkimage "$T/root" "$T/x.img" --bsize 1000
expect 1 "mkimage of a file" -- "$XIPVM" mkimage "$T/clean.trace" "$T/x.img"
[ ! -e "$T/x.img" ] || fail "a failed mkimage left an image"
expect 1 "mkimage with a makefs that cannot run" -- \
    env MAKEFS=/nonexistent/makefs "$XIPVM" mkimage "$T/root" "$T/x.img"
grep -q "cannot run /nonexistent/makefs: No such file or directory" "$T/err" ||
    fail "mkimage blamed another file: $(cat "$T/err")"
[ ! -e "$T/x.img" ] || fail "a failed mkimage left an image"

# An interrupted record stops every process it started, leaves no trace.
"$XIPVM" record -o "$T/int.trace" -- /bin/sh -c '/bin/sleep 27.125; true' \
    >/dev/null 2>"$T/err" &
rpid=$!
i=0
while ! pgrep -f 'sleep 27.125' >/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
kill -INT $rpid
wait $rpid
st=$?
[ $st -eq 130 ] && ok "an interrupted record exits 130" || fail "interrupted record: exit $st"
sleep 0.3
pgrep -f 'sleep 27.125' >/dev/null && fail "the recorded processes outlive the record"
[ -z "$(ls -A "$T" | grep int.trace)" ] || fail "an interrupted record left a file"

# ---- import-lackey of per-process logs: bad ones, a clear error ----
mkdir -p "$T/logs1" "$T/logs2" "$T/logs3"
PRE='==100== Command: /bin/busybox true\n==100== Parent PID: 1\nI  0040ebf0,2\n'
printf "${PRE}I  0040eb" >"$T/logs1/1.log"
printf "${PRE}SYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 1, 2, 7, 0 ) --> Success(0x4835000) \n" >"$T/logs2/1.log"
printf "${PRE}SYSCALL[100,1](257) sys_openat ( 4294967196, 0x1(/nonexistent/x.so), 0 ) --> Success(0x3) \nSYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 1, 2, 3, 0 ) --> Success(0x4835000) \n" >"$T/logs3/1.log"
# An access in the last MiB below 2^64, whose chunk would end at 0 (the
# import used to loop there, its memory growing).
mkdir -p "$T/logs4" "$T/logs5" "$T/logs6"
printf "${PRE} L fffffffffffffff0,8\n" >"$T/logs4/1.log"
# A heap grown into the anonymous memory the trace places above it.
EXIT='SYSCALL[100,1](231) exit_group( 0 ) --> [pre-success] Success(0x0) \n'
printf "${PRE} L 1fff000600,8\nSYSCALL[100,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x4000000) \nSYSCALL[100,1](12) sys_brk ( 0x43f00000 ) --> [pre-success] Success(0x43f00000) \n S 43e00000,8\n$EXIT" >"$T/logs5/1.log"
# A process that forks a child of its own pid.
printf "==100== Command: /bin/busybox sh\n==100== Parent PID: 1\nI  0040ebf0,2\nSYSCALL[100,1](56) sys_clone ( 1200011, 0x0, 0x0, 0x4000690, 0x0 )   clone(fork): process 100 created child 100\n --> [pre-success] Success(0x64) \n$EXIT" >"$T/logs6/1.log"
printf '==100== Command: /bin/busybox sh\n==100== Parent PID: 100\n --> [pre-success] Success(0x0) \nI  004610d3,6\n' >"$T/logs6/2.log"
# A decimal argument past 2^64 - 1 (it used to wrap: a munmap of 1 byte).
mkdir -p "$T/logs8"
printf "${PRE}SYSCALL[100,1](11) sys_munmap ( 0x0, 18446744073709551617 ) --> Success(0x0) \n$EXIT" >"$T/logs8/1.log"
for c in "1:line 4:the log ends in the middle of a line" \
         "2:line 4:mmap of fd 7" \
         "3:line 5:mmap of /nonexistent/x.so" \
         "4:line 4:memory at 0xfffffffffffffff0, in the last MiB below 2^64" \
         "5:line 6:brk to 0x43f00000: a heap of 0x3ff00000 bytes runs into what the trace has above it at 0x40000000" \
         "6:line 4:process 100 forked a child of its own pid" \
         "8:line 4:malformed system call"; do
    n=${c%%:*}; rest=${c#*:}; at=${rest%%:*}; msg=${rest#*:}
    expect 1 "import-lackey: $msg" -- timeout 60 "$XIPVM" import-lackey \
        -o "$T/imp$n.trace" "$T/logs$n"
    grep -q "$at: $msg" "$T/err" || fail "no '$at: $msg' in: $(cat "$T/err")"
    [ -z "$(ls -A "$T" | grep "imp$n.trace")" ] || fail "a failed import left a file"
done
# munmap and mprotect of all but the last page of the address space: a
# hole is one piece, not 2^44 chunks (the import used to spin for hours).
mkdir -p "$T/logs7"
printf "${PRE}SYSCALL[100,1](11) sys_munmap ( 0x0, 18446744073709547520 ) --> Success(0x0) \nSYSCALL[100,1](10) sys_mprotect ( 0x0, 18446744073709547520, 1 ) --> Success(0x0) \n$EXIT" >"$T/logs7/1.log"
expect 0 "import-lackey: munmap and mprotect of 2^64 - 4096 bytes" -- \
    timeout 60 "$XIPVM" import-lackey -o "$T/imp7.trace" "$T/logs7"
# A program's first instruction at a load bias past 2^64 - its size: said
# at its line (it used to be "line 0").
entry() { readelf -h "$1" | awk '/Entry point/ { print $4 }'; }
ld=$(readelf -l /bin/true | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
printf '==100== Command: /bin/true\n==100== Parent PID: 1\nI  %016x,2\nI  %016x,1\n' \
    "$(($(entry "$ld")))" "$(( $(entry /bin/true) - 0x3000 ))" >"$T/bias.log"
expect 1 "import-lackey: a load bias past 2^64" -- \
    "$XIPVM" import-lackey --exec /bin/true -o "$T/bias.trace" "$T/bias.log"
grep -q "line 4: a load bias that puts the program above 2^64" "$T/err" ||
    fail "no load bias error at line 4 in: $(cat "$T/err")"

# ---- A command that explains itself ----
# --help on every command lists each option with its default, on standard
# output, exit 0; the manual page has a section for every command and
# names every option --help lists.
MAN="$(dirname "$0")/../doc/xipvm.1"
expect 0 "xipvm --help" -- "$XIPVM" --help
cmds=$(awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 }' "$T/out")
[ -n "$cmds" ] || fail "xipvm --help lists no command"
for c in $cmds; do
    expect 0 "$c --help" -- "$XIPVM" "$c" --help
    [ -s "$T/err" ] && fail "$c --help wrote to standard error"
    cp "$T/out" "$T/help.$c"
    expect 0 "$c -h" -- "$XIPVM" "$c" -h
    cmp -s "$T/out" "$T/help.$c" || fail "$c -h and --help differ"
done
# Help wins wherever it is (before --): no image, no trace needed.
expect 0 "run --ram 1M --help" -- "$XIPVM" run --ram 1M --help
python3 - "$MAN" "$T" $cmds <<'PY' && ok "the manual page covers every command and option" ||
import re, sys
man, tmp, cmds = sys.argv[1], sys.argv[2], sys.argv[3:]
text = open(man).read().replace("\\-", "-")
missing = []
for c in cmds:
    if not re.search(r"^\.SS %s$" % re.escape(c), text, re.M):
        missing.append("section " + c)
    help = open("%s/help.%s" % (tmp, c)).read()
    opts = re.findall(r"^  (-[-\w]+)", help.split("\noptions:\n", 1)[1], re.M)
    assert opts, "no options in %s --help" % c
    missing += ["%s %s" % (c, o) for o in opts
                if not re.search(r"(?<![-\w])%s(?![-\w])" % re.escape(o), text)]
    # An option as long as its column goes on a line of its own: the
    # help never runs into it ("--neighbour-pv-limit Nskip ...").
    for line in help.split("\noptions:\n", 1)[1].splitlines():
        if not line.startswith("  -"):
            continue
        if "  " in line[2:]:  # the head, blanks, then the help
            assert line[23] == " ", "%s --help: %r" % (c, line)
        else:  # a long head alone, the help below
            assert len(line.split()) <= 2, "%s --help: %r" % (c, line)
for section in ("EXIT STATUS", "OUTPUT", "EXAMPLES"):
    if ".SH %s" % section not in text and '.SH "%s"' % section not in text:
        missing.append(section)
assert not missing, "not in doc/xipvm.1: %s" % missing
# Defaults are shown: run's options that have one say so.
run = open("%s/help.run" % tmp).read()
for o, d in (("--ram", "64M"), ("--machine", "sgimips"), ("--readahead", "4")):
    line = re.search(r"^  %s .*?(?=^  -)" % o, run, re.M | re.S).group(0)
    assert "default: %s" % d in " ".join(line.split()), (o, line)
PY
    fail "the manual page or the defaults"
expect 0 "--version" -- "$XIPVM" --version
grep -Eq '^xipvm [0-9]+\.[0-9]+\.[0-9]+' "$T/out" || fail "--version: $(cat "$T/out")"
# Conflicting options are refused, not silently decided.
expect 2 "run --xip --copy" -- $RUN --xip --copy "$T/clean.trace"
grep -q "conflict" "$T/err" || fail "no message for --xip --copy"
expect 2 "record --as without its value" -- "$XIPVM" record --as
grep -q "needs a value" "$T/err" || fail "no message for a missing value"
expect 2 "import-lackey without --exec" -- "$XIPVM" import-lackey "$T/clean.trace"
grep -q "exec" "$T/err" || fail "no message about --exec"
# Sizes keep their unit: 512K is 512 KiB, not 0 MiB.
expect 0 "run --ram 512K" -- $RUN --ram 512K "$T/clean.trace"
grep -q "512 KiB RAM" "$T/out" || fail "--ram 512K printed as: $(head -n 1 "$T/out")"
expect 0 "run --ram 1536K" -- $RUN --ram 1536K "$T/clean.trace"
grep -q "1.5 MiB RAM" "$T/out" || fail "--ram 1536K printed as: $(head -n 1 "$T/out")"
# One message for every file that is not an FFS image.
head -c 100 /dev/urandom >"$T/tiny.img"
head -c 300000 /dev/urandom >"$T/noise.img"
: >"$T/empty.img"
for f in tiny noise empty zeros; do
    expect 1 "fsinfo of $f.img" -- "$XIPVM" fsinfo "$T/$f.img"
    [ "$(cat "$T/err")" = "xipvm: $T/$f.img: not an FFS image" ] ||
        fail "fsinfo of $f.img says: $(cat "$T/err")"
done

# A kill with swap to spare (16 processes' page tables and u-areas fill
# 256K; none of that can be paged out) is not said to be "out of swap".
expect 0 "synth spawn-many" -- "$XIPVM" synth spawn-many \
    --exec /bin/busybox --events 2000 -o "$T/many.trace"
expect 0 "run of 16 processes in 256K, 1M of swap" -- \
    $RUN --ram 256K --swap 1M --json "$T/many.trace"
python3 - "$T/out" <<'EOF' && ok "kills with free swap" || fail "no kill"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["oom_kills"] > 0 and d["swap_used_peak"] < d["swap_pages"], d
EOF
grep -q "at line [0-9]*: out of memory, nothing left to page out" "$T/err" &&
    ! grep -q "out of swap" "$T/err" ||
    fail "the kill is said as: $(head -n 1 "$T/err")"

# Too much swap is said with the bound, as too much RAM is.
expect 1 "run --swap 16T" -- $RUN --swap 16T "$T/clean.trace"
[ "$(cat "$T/err")" = "xipvm: --swap 16 TiB: the sgimips profile has at most 17179869176 KiB of swap" ] ||
    fail "--swap 16T says: $(cat "$T/err")"
expect 2 "sweep --swap 0,16T" -- "$XIPVM" sweep --image "$T/img" \
    --out "$T/sw16" --swap 0,16T "$T/clean.trace"
grep -q "at most 17179869176 KiB of swap" "$T/err" ||
    fail "sweep --swap 16T says: $(cat "$T/err")"

finish
