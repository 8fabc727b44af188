#!/usr/bin/env python3
"""Host memory is bounded by the simulated machine (doc/sizing.md).

For each input that once took host memory out of proportion to the
simulated machine, replay it on a 64 MiB machine and check the replay's
peak resident set stays under the stated bound, 4 x simulated RAM +
32 MiB, and that the machine ran out of memory cleanly (processes killed,
no mismatch) instead of growing:
  - 20,000 mappings, then 1,000 forks of their process;
  - an 8 TiB sparse mapping written every 64 MiB (amd64);
  - 100,000 spawns.

usage: test_rss.py XIPVM
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

RAM = 64 << 20
BOUND = 4 * RAM + (32 << 20)


def traces(d):
    with open(os.path.join(d, "maps_forks.trace"), "w") as f:
        f.write("xipvm-trace 1\nspawn 1 /bin/busybox\n")
        for i in range(20000):
            f.write("mmap 1 0x%x 0x1000 rw- private,fixed\n" % (0x10000000 + i * 0x2000))
        for i in range(1000):
            f.write("fork 1 %d\n" % (i + 2))
    with open(os.path.join(d, "sparse.trace"), "w") as f:
        base, size, step = 0x100000000000, 8 << 40, 64 << 20
        f.write("xipvm-trace 1\nspawn 1 /bin/busybox\n")
        f.write("mmap 1 0x%x 0x%x rw- private,fixed\n" % (base, size))
        for i in range(size // step):
            f.write("w 1 0x%x 1\n" % (base + i * step))
    with open(os.path.join(d, "spawns.trace"), "w") as f:
        f.write("xipvm-trace 1\n")
        for i in range(100000):
            f.write("spawn %d /bin/busybox\n" % (i + 1))


def asan_env(xipvm):
    """Under AddressSanitizer, freed memory waits in a quarantine (256 MiB
    by default) that is ASan's, not the simulator's: keep it small."""
    with open(xipvm, "rb") as f:
        if b"AddressSanitizer" not in f.read():
            return None
    env = dict(os.environ)
    opts = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=16"
    return env


def peak_rss(cmd, out, env):
    """Runs cmd in a child of a fresh interpreter: => its peak RSS, bytes."""
    code = ("import resource, subprocess, sys\n"
            "r = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], 'w'))\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "sys.exit(r.returncode)\n")
    r = subprocess.run([sys.executable, "-c", code, out] + cmd,
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit("FAIL: %s exited %d: %s" % (" ".join(cmd), r.returncode, r.stderr))
    return int(r.stdout.split()[-1]) * 1024  # ru_maxrss is in KiB on Linux


def main():
    xipvm = sys.argv[1]
    makefs = shutil.which("makefs") or "/usr/sbin/makefs"
    fails = 0
    env = asan_env(xipvm)
    with tempfile.TemporaryDirectory(prefix="test_rss.") as d:
        os.makedirs(os.path.join(d, "tree", "bin"))
        shutil.copy("/bin/busybox", os.path.join(d, "tree", "bin", "busybox"))
        img = os.path.join(d, "img")
        subprocess.run([makefs, "-t", "ffs", "-M", "1m", "-b", "10%", "-B", "little",
                        "-o", "version=2,bsize=32768,fsize=4096", img,
                        os.path.join(d, "tree")], check=True, capture_output=True)
        traces(d)
        for name, machine in (("maps_forks", "sgimips"), ("sparse", "amd64"),
                              ("spawns", "sgimips")):
            out = os.path.join(d, name + ".json")
            rss = peak_rss([xipvm, "run", "--image", img, "--machine", machine,
                            "--ram", str(RAM), "--json",
                            os.path.join(d, name + ".trace")], out, env)
            r = json.load(open(out))
            ok = rss <= BOUND and r["mismatches"] == 0 and r["oom_kills"] > 0 \
                and not r["fits"] and r["ram_pages"] == RAM >> 12
            print("%s: %s: peak RSS %.1f MiB (bound %.0f MiB, %.2f x RAM), "
                  "%d killed, RAM at peak %.1f MiB" %
                  ("ok" if ok else "FAIL", name, rss / 2**20, BOUND / 2**20,
                   rss / RAM, r["oom_kills"], r["ram_peak_total"] / 2**20))
            fails += not ok
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
