#!/bin/sh
# Beyond the paper, through the xipvm command (doc/beyond-the-paper.md):
# --device md (§11.6), --device-design (§6.3), the neighbour reserve
# (§11.2) and loans in traces (§11.3).  Expected figures come from the
# image's size, the trace and the options, not from the simulator.
# Usage: test_beyond.sh PATH-TO-xipvm
NAME=test_beyond TOOLS="python3"
. "$(dirname "$0")/cli_lib.sh"

# busybox's ELF header is in its first text page (a device page under XIP).
cat >"$T/t.trace" <<'EOF'
xipvm-trace 2
spawn 1 /bin/busybox echo hi
r 1 0x400000 4 =7f454c46
x 1 0x401000 64
mmap 1 0x40000000 0x8000 rw- private,fixed
w 1 0x40000000 4 =01020304
r 1 0x40007000 4 =00000000
fork 1 2
w 2 0x40001000 8
exit 2
exit 1
EOF
RUN="$XIPVM run --image $T/img"

# ---- --device md: the image in RAM, its own kind ----
expect 0 "run --device md --json (xip)" -- $RUN --device md --json "$T/t.trace"
cp "$T/out" "$T/md-xip.json"
expect 0 "run --device md --copy --json" -- $RUN --device md --copy --json "$T/t.trace"
cp "$T/out" "$T/md-copy.json"
expect 0 "run --device nor --json (xip)" -- $RUN --device nor --json "$T/t.trace"
cp "$T/out" "$T/nor-xip.json"
python3 - "$T/img" "$T/md-xip.json" "$T/md-copy.json" "$T/nor-xip.json" <<'EOF' \
    && ok "md: the image's pages are RAM of kind md, no vm_page; copy adds page-cache copies" \
    || fail "md figures"
import json, os, sys
img, x, c, n = sys.argv[1], *(json.load(open(p)) for p in sys.argv[2:])
pages = (os.path.getsize(img) + 4095) // 4096
for d in (x, c):
    assert d["params"]["device"] == "md" and d["mismatches"] == 0
    assert d["md_pages"] == pages, (d["md_pages"], pages)
    assert d["ram_peak"]["md"] == pages * 4096
    assert d["ram_pages"] == (64 << 20) // 4096 - pages
    assert d["vm_page_metadata_bytes"] == d["ram_pages"] * 72
    assert sum(d["ram_peak"].values()) == d["ram_peak_total"]
assert n["params"]["device"] == "nor" and n["md_pages"] == 0
assert n["ram_peak"]["md"] == 0
# XIP maps the image's pages in place; copy mode caches what it touched.
assert x["ram_peak"]["page_cache"] == 0 and x["device_maps"] > 0
assert c["ram_peak"]["page_cache"] > 0 and c["device_maps"] == 0
# The md costs its image whatever the mode: XIP on md = NOR + the image.
assert x["ram_peak_total"] - n["ram_peak_total"] == pages * 4096, \
    (x["ram_peak_total"], n["ram_peak_total"])
EOF
python3 - "$T/md-xip.json" "$T/nor-xip.json" <<'EOF' \
    && ok "md: its pages are RAM to the CPU model (no flash stalls), NOR's are flash" \
    || fail "md time figures"
import json, sys
x, n = (json.load(open(p)) for p in sys.argv[1:])
# Nothing lives on NOR with the image on a memory disk: not one line, not
# one ns of flash; the fetches the NOR run stalls on flash for miss to RAM.
assert x["nor_line_fills"] == 0 and x["stall_ns_flash"] == 0, x["stall_ns_flash"]
assert n["nor_line_fills"] > 0 and n["stall_ns_flash"] > 0
assert x["ram_line_fills"] > n["ram_line_fills"]
assert x["i1_refs"] == n["i1_refs"] and x["d1_refs"] == n["d1_refs"]
EOF
expect 0 "compare --device md --json" -- "$XIPVM" compare --image "$T/img" --device md --json "$T/t.trace"
python3 - "$T/out" <<'EOF' && ok "compare on md: XIP saves the page cache, not the md" || fail "md compare"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["saved"]["ram_peak"]
assert s["md"] == 0 and s["page_cache"] == d["copy"]["ram_peak"]["page_cache"] > 0
EOF
expect 2 "a bad --device" -- $RUN --device sd "$T/t.trace"
grep -q "expected nor or md" "$T/err" || fail "bad --device: $(cat "$T/err")"
expect 1 "an md that does not fit its RAM" -- $RUN --device md --ram 1M "$T/t.trace"
grep -q "memory disk" "$T/err" || fail "md too big: $(cat "$T/err")"
expect 0 "run --device md --csv" -- $RUN --device md --csv "$T/t.trace"
python3 - "$T/out" <<'EOF' && ok "CSV: the device column and ram_peak_md" || fail "md CSV"
import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))[0]
assert r["device"] == "md" and int(r["ram_peak_md"]) > 0, r
EOF

# ---- --device-design: the same answers, different bookkeeping ----
for d in segment amap-copy vm_page; do
    expect 0 "run --device-design $d --json" -- $RUN --device-design $d --json "$T/t.trace"
    cp "$T/out" "$T/design-$d.json"
done
python3 - "$T"/design-segment.json "$T"/design-amap-copy.json "$T"/design-vm_page.json <<'EOF' \
    && ok "designs: same run, PV entries and metadata by design" || fail "design figures"
import json, sys
seg, amc, vmp = (json.load(open(p)) for p in sys.argv[1:4])
for name, d in (("segment", seg), ("amap-copy", amc), ("vm_page", vmp)):
    assert d["params"]["device_design"] == name
    assert d["mismatches"] == 0 and d["events"] == seg["events"]
    assert d["device_maps"] == seg["device_maps"] > 0
assert seg["pv_device_peak"] > 0 and amc["pv_device_peak"] == 0
assert vmp["pv_device_peak"] == seg["pv_device_peak"]
assert seg["device_metadata_bytes"] == amc["device_metadata_bytes"] == 0
assert vmp["device_metadata_bytes"] == vmp["device_pages"] * 72
assert vmp["kmem"]["device_vm_page"]["units"] == vmp["device_pages"]
# amap-copy copies the parent's amaps at the fork; the others at a write.
assert amc["forks"] == seg["forks"] == 1
assert amc["amap_slots_copied"] >= seg["amap_slots_copied"]
EOF
expect 2 "a bad --device-design" -- $RUN --device-design hash "$T/t.trace"
# compare's last words on device pages' vm_pages hold under each design:
# vm_page gives the device vm_pages (kernel memory), amap-copy counts no
# device page mapped.
CMP="$XIPVM compare --image $T/img"
expect 0 "compare --device-design vm_page" -- \
    $CMP --device-design vm_page "$T/t.trace"
grep -q "cost none" "$T/out" &&
    fail "compare says device pages cost no vm_page under vm_page"
kib=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(round(d["device_metadata_bytes"] / 1024))' "$T/design-vm_page.json")
grep -q "the device.s [0-9]* pages have vm_pages: $kib KiB of" "$T/out" &&
    ok "compare, vm_page: the device's vm_pages, not none" ||
    fail "compare, vm_page: $(tail -2 "$T/out")"
expect 0 "compare --device-design amap-copy" -- \
    $CMP --device-design amap-copy "$T/t.trace"
grep -q "device pages mapped at peak cost none" "$T/out" &&
    fail "compare, amap-copy: a count it does not keep: $(tail -1 "$T/out")" ||
    ok "compare, amap-copy: no count of device pages mapped claimed"

# ---- the neighbour reserve ----
expect 0 "fault-ahead unbounded" -- $RUN --json "$T/t.trace"
cp "$T/out" "$T/nb-on.json"
expect 0 "fault-ahead with a reserve of all RAM" -- $RUN --neighbour-reserve 64M --json "$T/t.trace"
cp "$T/out" "$T/nb-all.json"
expect 0 "fault-ahead with a PV limit of 1" -- $RUN --neighbour-pv-limit 1 --json "$T/t.trace"
cp "$T/out" "$T/nb-pv.json"
python3 - "$T/nb-on.json" "$T/nb-all.json" "$T/nb-pv.json" <<'EOF' \
    && ok "reserve: neighbours skipped and counted, the rest unchanged" || fail "reserve figures"
import json, sys
on, al, pv = (json.load(open(p)) for p in sys.argv[1:4])
assert on["neighbour_maps"] > 0 and on["neighbour_skipped"] == 0
# The whole RAM reserved: every one skipped.  One PV entry at most:
# only neighbours of the first fault, before anything else was mapped.
assert al["neighbour_maps"] == 0
assert pv["neighbour_maps"] < on["neighbour_maps"] and pv["neighbour_skipped"] > 0
for d in (al, pv):
    assert d["neighbour_maps"] + d["neighbour_skipped"] == on["neighbour_maps"]
    assert d["mismatches"] == 0 and d["faults"] >= on["faults"]
    assert d["pv_entries_peak"] < on["pv_entries_peak"]
assert al["params"]["neighbour_reserve"] == 64 << 20
assert pv["params"]["neighbour_pv_limit"] == 1
EOF
expect 2 "a reserve not in pages" -- $RUN --neighbour-reserve 1000 "$T/t.trace"
expect 1 "a reserve above the RAM" -- $RUN --neighbour-reserve 128M "$T/t.trace"

# ---- loans in a trace: a write during the loan copies ----
cat >"$T/loan.trace" <<'EOF'
xipvm-trace 2
spawn 1 /bin/busybox echo hi
mmap 1 0x40000000 0x3000 rw- private,fixed
w 1 0x40000000 4 =01020304
loan 1 0x40000000 4
w 1 0x40000000 4 =05060708
r 1 0x40000000 4 =05060708
loan 1 0x400000 4
exit 1
unloan 1 0x40000000 4 =01020304
unloan 1 0x400000 4 =7f454c46
unloan 1 0x400000 4 !EINVAL
EOF
expect 0 "loans in a trace (xip)" -- $RUN --json "$T/loan.trace"
cp "$T/out" "$T/loan-xip.json"
expect 0 "loans in a trace (copy)" -- $RUN --copy --json "$T/loan.trace"
cp "$T/out" "$T/loan-copy.json"
python3 - "$T/loan-xip.json" "$T/loan-copy.json" <<'EOF' \
    && ok "loans: the I/O sends what was lent, a write copied once" || fail "loan figures"
import json, sys
x, c = (json.load(open(p)) for p in sys.argv[1:3])
for d in (x, c):
    assert d["mismatches"] == 0 and d["loans"] == 2 and d["loans_active"] == 0
    assert d["loan_breaks"] == 1 and d["loan_pages"] == 2
    assert d["pages"]["loan"] == 0
# busybox's first page is a device page under XIP, a page-cache page in
# copy mode: the exit lets the page cache go, the loan keeps that page.
assert x["loan_device_pages"] == 1 and c["loan_device_pages"] == 0
assert x["pages_peak"]["loan"] == 1 and c["pages_peak"]["loan"] == 2
EOF
sed 's/^unloan 1 0x40000000 4 =01020304$/unloan 1 0x40000000 4 =05060708/' \
    "$T/loan.trace" >"$T/loan-bad.trace"
expect 1 "an unloan that sent other bytes is a mismatch" -- $RUN "$T/loan-bad.trace"
grep -q "line 10" "$T/err" || fail "the loan mismatch does not name line 10: $(cat "$T/err")"
printf 'xipvm-trace 2\nloan 1 0x0 4 =00\n' >"$T/loan-malformed.trace"
expect 1 "loan takes no =HEX" -- $RUN "$T/loan-malformed.trace"

# ---- sweep --device nor,md: an axis, grouped apart ----
# 1M cannot hold the md image: those points do not fit (no job fails).
expect 0 "sweep --device nor,md" -- "$XIPVM" sweep --image "$T/img" --out "$T/sw" \
    --ram 1M,8M,16M --device nor,md --jobs 2 "$T/t.trace"
[ -s "$T/err" ] && fail "sweep: a point without room said more than its row: $(cat "$T/err")"
python3 - "$T/sw" <<'EOF' && ok "sweep: both devices, a group each" || fail "sweep device axis"
import csv, json, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(d + "/results.csv")))
assert sorted({r["device"] for r in rows}) == ["md", "nor"] and len(rows) == 12
small = [r for r in rows if r["device"] == "md" and r["ram"] == str(1 << 20)]
assert len(small) == 2 and all(r["fits"] == "false" for r in small), small
assert all(r["fits"] == "true" for r in rows if r["ram"] != str(1 << 20))
j = json.load(open(d + "/results.json"))
assert j["params"]["device"] == ["nor", "md"], j["params"]["device"]
assert len(j["min_ram"]) == 2
assert all(int(r["ram_peak_md"]) > 0 for r in rows
           if r["device"] == "md" and r["fits"] == "true")
for g in j["min_ram"]:
    if "dev=md" in g["group"]:
        assert g["xip"]["fits"] == 8 << 20, g
EOF

finish
