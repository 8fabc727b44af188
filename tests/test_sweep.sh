#!/bin/sh
# xipvm sweep end to end: the CSV's columns, the smallest-RAM answer on a
# trace whose working set is known (reasoned out below), the jobs run by
# GNU parallel (--emit-jobs) and as a Slurm array script (--slurm, its
# tasks run here one by one) merging to the same CSV as a local sweep,
# results.json and the charts well-formed, and usage errors.
# Usage: test_sweep.sh PATH-TO-xipvm
NAME=test_sweep TOOLS="python3 parallel"
. "$(dirname "$0")/cli_lib.sh"

# The working set: 1 MiB of anonymous memory written and kept, and 1 MiB
# of busybox's text fetched three times.  XIP needs RAM for the anonymous
# MiB and about 0.3 MiB of kernel, tables, buffers, stack and data: it
# cannot fit 1 MiB, it fits 2 MiB, and its time (flash reads in place,
# the same at any RAM) is the same from 2 MiB on.  Copy mode fits 2 MiB
# too (text pages can be dropped and read again), but it keeps the text
# only with another MiB of page cache: at 2 MiB every pass reads the text
# from flash again (three times the time), at 4 MiB once.  So: xip 2M and
# 2M, copy 2M and 4M, and XIP saves 2 MiB within 10 %.
cat >"$T/ws.trace" <<'END'
xipvm-trace 1
spawn 1 /bin/busybox
mmap 1 0x40000000 0x100000 rw- private,fixed
w 1 0x40000000 0x100000
x 1 0x401000 0x100000
x 1 0x401000 0x100000
x 1 0x401000 0x100000
r 1 0x40000000 0x100000
exit 1
END
GRID="--image $T/img --ram 512K:8M --max-slowdown 10"

expect 0 "a local sweep" -- "$XIPVM" sweep $GRID --jobs 2 --out "$T/local" "$T/ws.trace"
cp "$T/out" "$T/local.txt"
for f in results.csv results.json time_ns.svg faults.svg refaults.svg flash_bytes_read.svg; do
    [ -s "$T/local/$f" ] || fail "the local sweep did not write $f"
done
python3 - "$T/local" <<'END' && ok "CSV columns, 10 runs, JSON and the minimum RAM" || fail "sweep results"
import csv, json, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
rows = list(csv.DictReader(open(d + "/results.csv")))
cols = list(rows[0].keys())
want = ["mode", "machine", "cpu", "cpu_hash", "image", "trace", "ram",
        "swap", "readahead", "fault_ahead", "buffers", "device",
        "device_design",
        "neighbour_reserve", "neighbour_pv_limit", "i1", "d1", "ll",
        "no_cache", "superpages", "slice", "version", "events", "mismatches",
        "oom_kills", "fits", "ram_peak_total", "ram_peak_anon",
        "ram_peak_aobj", "ram_peak_page_cache", "ram_peak_page_table",
        "ram_peak_zero", "ram_peak_buffer", "ram_peak_kernel", "ram_peak_md",
        "ram_peak_loan",
        "ram_peak_vm_page", "faults", "refaults", "reclaimed", "pd_freed",
        "pd_runs", "readahead_unused", "pagecache_fills",
        "flash_bytes_read", "flash_ns", "swap_outs", "swap_ins", "swap_ns",
        "io_ns", "kmem_bytes_peak", "cow_promotions", "device_maps",
        "pv_entries_peak", "neighbour_maps", "neighbour_skipped", "time_ns",
        "cycles", "stall_ns_ram", "stall_ns_flash", "tlb_misses"]
assert cols == want, cols
assert len(rows) == 10, len(rows)
# Job order: mode (xip first), then RAM.
assert [r["mode"] for r in rows] == ["xip"] * 5 + ["copy"] * 5
assert [int(r["ram"]) for r in rows[:5]] == [512 << 10 << k for k in range(5)]
kinds = [k for k in cols if k.startswith("ram_peak_") and k != "ram_peak_total"]
for r in rows:
    assert r["mismatches"] == "0", r
    assert (r["fits"] == "true") == (int(r["oom_kills"]) == 0), r
    assert sum(int(r[k]) for k in kinds) == int(r["ram_peak_total"]), r
fit = {(r["mode"], int(r["ram"])): r["fits"] == "true" for r in rows}
assert not fit["xip", 512 << 10] and not fit["xip", 1 << 20]
assert not fit["copy", 1 << 20] and fit["copy", 2 << 20]
j = json.load(open(d + "/results.json"))
p = j["params"]
assert p["max_slowdown"] == 10 and p["time_metric"] == "time_ns" and p["version"]
assert p["ram"] == [512 << 10 << k for k in range(5)] and p["mode"] == ["xip", "copy"]
assert p["machine"] == ["sgimips"] and p["swap"] == [0] and p["readahead"] == [4]
assert p["fault_ahead"] == ["uvm"] and p["buffers"] == [16] and len(p["trace"]) == 1
assert len(j["runs"]) == 10 and j["runs"][0]["mode"] == "xip"
(m,) = j["min_ram"]
M = 1 << 20
assert m["xip"] == {"fits": 2 * M, "within_max_slowdown": 2 * M}, m
assert m["copy"] == {"fits": 2 * M, "within_max_slowdown": 4 * M}, m
assert m["xip_saves"] == {"fits": 0, "within_max_slowdown": 2 * M}, m
for f in ("time_ns", "faults", "refaults", "flash_bytes_read"):
    assert ET.parse("%s/%s.svg" % (d, f)).getroot().tag.endswith("svg")
END
grep -Eq "within 10 %: +xip 2M +copy 4M +XIP saves 2M$" "$T/local.txt" ||
    fail "the text does not give the answer: $(cat "$T/local.txt")"

# The same grid as GNU parallel's jobs: one self-contained line each,
# run from another directory.
expect 0 "--emit-jobs" -- "$XIPVM" sweep $GRID --out "$T/par" --emit-jobs "$T/jobs.txt" "$T/ws.trace"
[ "$(wc -l <"$T/jobs.txt")" -eq 10 ] || fail "--emit-jobs wrote $(wc -l <"$T/jobs.txt") lines, not 10"
[ ! -e "$T/par/results.csv" ] || fail "--emit-jobs ran the sweep"
# A:B ends at B when doubling does not land on it: 3M, 6M, 8M.
expect 0 "--ram 3M:8M" -- "$XIPVM" sweep --image "$T/img" --ram 3M:8M --out "$T/ends" --emit-jobs "$T/ends.txt" "$T/ws.trace"
[ "$(wc -l <"$T/ends.txt")" -eq 6 ] || fail "--ram 3M:8M made $(wc -l <"$T/ends.txt") jobs, not 6 (3M, 6M, 8M in two modes)"
(cd / && parallel --will-cite -j 2 <"$T/jobs.txt") >"$T/par.out" 2>&1 ||
    fail "parallel ran the jobs with errors: $(cat "$T/par.out")"
expect 0 "--merge after GNU parallel" -- "$XIPVM" sweep --merge "$T/par"
cmp -s "$T/local/results.csv" "$T/par/results.csv" && ok "GNU parallel's jobs merge to the local sweep's CSV" ||
    fail "GNU parallel's results.csv differs from the local one"
cmp -s "$T/out" "$T/local.txt" || {
    # The answer names the directory: compare it without.
    sed "s#$T/par#DIR#" "$T/out" >"$T/a"; sed "s#$T/local#DIR#" "$T/local.txt" >"$T/b"
    cmp -s "$T/a" "$T/b" || fail "the merged answer differs"
}

# As a Slurm array: the script's tasks, run here one by one.
expect 0 "--slurm" -- "$XIPVM" sweep $GRID --out "$T/slurm" --slurm "$T/sweep.sbatch" "$T/ws.trace"
grep -q "^#SBATCH --array=0-9$" "$T/sweep.sbatch" || fail "the sbatch script's array is not 0-9"
i=0
while [ $i -lt 10 ]; do
    SLURM_ARRAY_TASK_ID=$i sh "$T/sweep.sbatch" || fail "array task $i"
    i=$((i + 1))
done
expect 0 "--merge after the array" -- "$XIPVM" sweep --merge "$T/slurm"
cmp -s "$T/local/results.csv" "$T/slurm/results.csv" && ok "the Slurm array merges to the local sweep's CSV" ||
    fail "the array's results.csv differs from the local one"
# A job that has not written its row: the merge names it and fails (the
# answer could change with it), writing no results.
mkdir -p "$T/gap/jobs"
cp "$T/slurm/sweep.args" "$T/gap/" && cp "$T/slurm/jobs/"*.csv "$T/gap/jobs/"
rm "$T/gap/jobs/000003.csv"
expect 1 "--merge with a job's row missing" -- "$XIPVM" sweep --merge "$T/gap"
grep -q "1 of 10 jobs have not written their row: 000003$" "$T/err" ||
    fail "the missing job is not named: $(cat "$T/err")"
[ ! -e "$T/gap/results.csv" ] || fail "a merge with a job missing wrote results"

# The CPU options go to every job: a profile file by a relative path
# still reads in jobs run from /, and each row's time is what run says.
"$XIPVM" profiles cortex-a7 | sed 's/^clock_mhz *=.*/clock_mhz = 500/' >"$T/slow.cpu"
(cd "$T" && "$XIPVM" sweep --image "$T/img" --ram 1M,4M --mode xip --cpu slow.cpu \
    --I1=8192,2,32 --out "$T/cpu" --emit-jobs "$T/cpujobs.txt" "$T/ws.trace" >/dev/null 2>"$T/cpuemit.err") ||
    fail "sweep --cpu FILE --I1=G --emit-jobs: $(cat "$T/cpuemit.err")"
grep -q -- "--cpu '$T/slow.cpu' --I1 '8192,2,32'" "$T/cpujobs.txt" ||
    fail "the jobs do not carry the CPU options: $(head -n 1 "$T/cpujobs.txt")"
(cd / && sh "$T/cpujobs.txt") >"$T/cpu.out" 2>&1 || fail "the CPU jobs: $(cat "$T/cpu.out")"
expect 0 "--merge of the CPU jobs" -- "$XIPVM" sweep --merge "$T/cpu"
expect 0 "run with the same CPU options" -- "$XIPVM" run --image "$T/img" --ram 4M --csv \
    --cpu "$T/slow.cpu" --I1 8192,2,32 "$T/ws.trace"
python3 - "$T/cpu/results.csv" "$T/out" "$T/slow.cpu" <<'END' && ok "sweep --cpu: every job on the profile, run's time" || fail "sweep --cpu"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
run = list(csv.DictReader(open(sys.argv[2])))[0]
assert [r["cpu"] for r in rows] == [sys.argv[3]] * 2, rows
r4 = [r for r in rows if r["ram"] == str(4 << 20)][0]
assert r4["time_ns"] == run["time_ns"] and r4["cycles"] == run["cycles"], (r4, run)
assert [r["cpu_hash"] for r in rows] == [run["cpu_hash"]] * 2, (rows, run)
END
# A file in the current directory named like a built-in is what --cpu
# reads (as run does): the jobs get its absolute path, not the bare name
# that would mean the built-in anywhere else.
mkdir -p "$T/shadow" && cp "$T/slow.cpu" "$T/shadow/cortex-a7"
(cd "$T/shadow" && "$XIPVM" sweep --image "$T/img" --ram 1M --mode xip --cpu cortex-a7 \
    --out "$T/shadowed" --emit-jobs "$T/shadowjobs.txt" "$T/ws.trace" >/dev/null 2>"$T/shadow.err") ||
    fail "sweep --cpu with a file shadowing a built-in: $(cat "$T/shadow.err")"
grep -q -- "--cpu '$T/shadow/cortex-a7'" "$T/shadowjobs.txt" && ok "a shadowing file goes to the jobs by its path" ||
    fail "the jobs do not name the file read: $(head -n 1 "$T/shadowjobs.txt")"
expect 2 "sweep with a bad --I1" -- "$XIPVM" sweep $GRID --I1=1000,3,64 --out "$T/x" "$T/ws.trace"
grep -q -- "--I1" "$T/err" || fail "bad --I1 not named: $(cat "$T/err")"

# A run with a mismatch gives no answer though it fits: the answer says so.
printf 'xipvm-trace 1\nspawn 1 /bin/busybox\nr 1 0x400000 4 =00000000\n' \
    >"$T/mism.trace"
expect 0 "a sweep of a trace with a mismatch" -- "$XIPVM" sweep \
    --image "$T/img" --ram 4M --jobs 2 --out "$T/mism" "$T/mism.trace"
grep -q "to fit (no process killed, no mismatch)" "$T/out" &&
    ok "no answer for runs with a mismatch, and the reason said" ||
    fail "the answer's condition misses the mismatch: $(head -3 "$T/out")"
python3 - "$T/mism/results.json" <<'END' || fail "mismatch: results.json"
import json, sys
d = json.load(open(sys.argv[1]))
assert all(r["fits"] is True and r["mismatches"] == 1
           for r in d["runs"]), d["runs"]
assert d["min_ram"][0]["xip"]["fits"] is None, d["min_ram"]
END
# --mode and --device hold two values each: a third is refused, not
# written past them (it used to change the grid's size).
for m in "--mode xip,copy,xip" "--device nor,md,nor"; do
    expect 2 "$m" -- "$XIPVM" sweep --image "$T/img" --out "$T/x3" \
        --emit-jobs "$T/x3.txt" $m "$T/ws.trace"
    grep -q "more than 2 values" "$T/err" || fail "$m: $(cat "$T/err")"
done
[ ! -e "$T/x3.txt" ] || fail "a third --mode or --device made jobs"
# Usage errors: exit 2 with a message; merging nothing: exit 1.
expect 2 "sweep without a trace" -- "$XIPVM" sweep --image "$T/img" --out "$T/x"
expect 2 "sweep without --out" -- "$XIPVM" sweep --image "$T/img" "$T/ws.trace"
expect 2 "a bad --ram range" -- "$XIPVM" sweep --image "$T/img" --out "$T/x" --ram 4M:1M "$T/ws.trace"
grep -q "A <= B" "$T/err" ||
    fail "a reversed --ram range not said: $(cat "$T/err")"
# An end that is no size is named, not called a reversed range.
for r in 0:1M 1M:0 1M: :1M 1M:99999999999999999999999 \
    0000000000000000000000000000000000000000000000000000000000000000001M:2M; do
    expect 2 "--ram $r" -- "$XIPVM" sweep --image "$T/img" --out "$T/x" \
        --ram "$r" "$T/ws.trace"
    grep -q "^xipvm: --ram $r: [AB] is not a RAM size" "$T/err" ||
        fail "--ram $r: the bad end not named: $(cat "$T/err")"
done
# A RAM no job can run on: said before any job runs, not as failed jobs.
expect 2 "a --ram past sgimips' most" -- "$XIPVM" sweep --image "$T/img" --out "$T/big" --ram 1M,4G --machine amd64,sgimips --jobs 2 "$T/ws.trace"
grep -q "the sgimips profile has at most 3 GiB" "$T/err" || fail "the maximum not named: $(cat "$T/err")"
[ ! -e "$T/big" ] || fail "a sweep with a --ram out of range ran jobs"
expect 2 "a --ram below 4 pages" -- "$XIPVM" sweep --image "$T/img" --out "$T/small" --ram 8K:1M "$T/ws.trace"
grep -q "at least 16 KiB" "$T/err" || fail "the minimum not named: $(cat "$T/err")"
[ ! -e "$T/small" ] || fail "a sweep with a --ram below the minimum ran jobs"
expect 2 "a bad --mode" -- "$XIPVM" sweep --image "$T/img" --out "$T/x" --mode xip,rom "$T/ws.trace"
grep -q "rom" "$T/err" || fail "no message naming the bad mode"
expect 2 "a bad --max-slowdown" -- "$XIPVM" sweep $GRID --max-slowdown lots --out "$T/x" "$T/ws.trace"
expect 2 "--jobs with --emit-jobs" -- "$XIPVM" sweep $GRID --jobs 2 --emit-jobs "$T/j" --out "$T/x" "$T/ws.trace"
expect 2 "--job past the grid" -- "$XIPVM" sweep $GRID --job 10 --out "$T/x" "$T/ws.trace"
expect 1 "a missing trace" -- "$XIPVM" sweep --image "$T/img" --out "$T/x" "$T/nothere.trace"
mkdir -p "$T/empty"
expect 1 "--merge of a directory no job wrote" -- "$XIPVM" sweep --merge "$T/empty"

# A trace whose name holds XML's markup and a newline: the charts escape
# it (they were not well-formed), and the merge reads the quoted newline
# in the job rows (it cut them in two).
odd="$T/a<b&c>
x.trace"
cp "$T/ws.trace" "$odd"
expect 0 "a sweep of a trace with markup and a newline in its name" -- \
    "$XIPVM" sweep --image "$T/img" --ram 1M --out "$T/odd" "$odd"
python3 - "$T/odd" "$odd" <<'END' && ok "its charts parse, its rows name the trace" ||
import csv, sys, xml.etree.ElementTree as ET
d, name = sys.argv[1], sys.argv[2]
rows = list(csv.reader(open(d + "/results.csv", newline="")))
assert len(rows) == 3 and all(len(r) == len(rows[0]) for r in rows), rows
assert all(r[rows[0].index("trace")] == name for r in rows[1:])
for f in ("time_ns", "faults", "refaults", "flash_bytes_read"):
    text = "".join(ET.parse("%s/%s.svg" % (d, f)).getroot().itertext())
    assert "a<b&c>" in text, f
END
    fail "a trace name with markup and a newline"

finish
