#!/usr/bin/env bash
# Regenerates the seed corpora in fuzz/corpus/ (committed; run this only
# to change them).  Needs makefs and python3.
set -euo pipefail
cd "$(dirname "$0")/corpus"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ffs: small makefs images, both versions and byte orders.
mkdir -p "$tmp/t/d/e"
python3 - "$tmp/t" <<'PY'
import sys, os
root = sys.argv[1]
def f(rel, n, seed):
    x = seed | 1; b = bytearray()
    for _ in range(n):
        x ^= (x << 13) & 0xffffffff; x ^= x >> 17; x ^= (x << 5) & 0xffffffff
        b.append(x & 0xff)
    open(os.path.join(root, rel), 'wb').write(b)
f('a', 100, 1); f('d/b', 5000, 2); f('d/e/c', 9000, 3); f('p', 4096, 4)
os.symlink('d/b', os.path.join(root, 'l'))
PY
for v in 1 2; do
    for e in little big; do
        makefs -t ffs -M 64k -B $e -o version=$v,bsize=4096,fsize=512 \
            "ffs/ufs$v-$e.img" "$tmp/t" >/dev/null
    done
done

# elf: hand-made static programs, both classes and byte orders.
python3 - <<'PY'
import struct
def elf(path, is64, big, etype, segs, entry):
    e = '>' if big else '<'
    eh, ph = (64, 56) if is64 else (52, 32)
    hdr = b'\x7fELF' + bytes([2 if is64 else 1, 2 if big else 1, 1]) + bytes(9)
    w = 'Q' if is64 else 'I'
    hdr += struct.pack(e + 'HHI' + w + w + w + 'IHHHHHH', etype, 8, 1, entry,
                       eh, 0, 0, eh, ph, len(segs), 0, 0, 0)
    body = bytearray(hdr)
    for off, va, fsz, msz, flags in segs:
        if is64:
            body += struct.pack(e + 'IIQQQQQQ', 1, flags, off, va, va, fsz, msz, 4096)
        else:
            body += struct.pack(e + 'IIIIIIII', 1, off, va, va, fsz, msz, flags, 4096)
    size = max(off + fsz for off, va, fsz, msz, flags in segs)
    body += bytes((i * 7 + 3) & 0xff for i in range(size - len(body)))
    open(path, 'wb').write(body)
elf('elf/exec32le', False, False, 2,
    [(0, 0x400000, 0x1800, 0x1800, 5), (0x1800, 0x401800, 0x300, 0x2000, 6)], 0x400100)
elf('elf/exec64be', True, True, 2,
    [(0, 0x10000000, 0x1200, 0x1200, 5), (0x1200, 0x10011200, 0x100, 0x100, 6)], 0x10000080)
elf('elf/exec32be', False, True, 2,
    [(0, 0x400000, 0x2000, 0x2000, 5)], 0x400200)
elf('elf/pie64le', True, False, 3,
    [(0, 0, 0x1000, 0x1000, 5), (0x1000, 0x2000, 0x800, 0x5000, 6)], 0x40)

# ops: a few byte streams, one per configuration byte.
x = 12345
for cfg in (0x00, 0x05, 0x0a, 0x13, 0x26, 0x3f):
    b = bytearray([cfg])
    for _ in range(300):
        x = (x * 1103515245 + 12345) & 0x7fffffff
        b.append((x >> 16) & 0xff)
    open('ops/seq-%02x' % cfg, 'wb').write(b)
PY

# tracebin: binary traces, made from the spec (hand.xvt is the trace of
# tests/test_tracebin.c) and converted from the text corpus by xipvm.
python3 - <<'PY'
import struct
head = b'\x89XVT\r\n\x1a\n' + bytes([1]) + bytes(7)
def frame(kind, rec): return bytes([kind]) + struct.pack('<II', len(rec), len(rec)) + rec
def end(n): return b'E' + struct.pack('<II', 0, 8) + struct.pack('<Q', n)
hand = bytes([0x70,1,4,0x80,0xc0,0x80,4,2,0,4,0x0b,0x28,0x80,0x80,0x80,0x80,8,
              0x61,8,0,1,2,3,4,5,6,7,8,0x71,1,0x21,0xe0,0xff,0xff,0xff,1,0x88,3]) + b'end'
open('tracebin/hand.xvt', 'wb').write(head + frame(0x52, hand) + end(7))
# version 2: the second fetch at its register, one byte; sizes by varint
hand2 = hand[:7] + bytes([0xa2]) + hand[9:] + bytes([0x70, 2, 0xa0, 0x20, 0xc0, 0x81, 0x01, 0xe8])
open('tracebin/hand-v2.xvt', 'wb').write(
    head[:8] + bytes([2]) + bytes(7) + frame(0x52, hand2) + end(10))
rec = bytearray()
for i in range(200):
    rec += bytes([0x70, 1 + (i % 2)]) + bytes([0x04, 0x00, 0x28, 0x10, 0x48, 0x03])
open('tracebin/two-procs.xvt', 'wb').write(
    head + frame(0x52, bytes(rec)) + frame(0x52, bytes([0x70, 3, 0x01, 0x02])) + end(601))
PY
XIPVM=${XIPVM:-../../build/xipvm}
"$XIPVM" convert --compress none trace/basic.trace tracebin/basic-raw.xvt
"$XIPVM" convert trace/basic.trace tracebin/basic-zstd.xvt
"$XIPVM" convert --compress none trace/errors.trace tracebin/errors-raw.xvt
# (the .xvt files above that are in the tree were written by version 1;
# v2-*.xvt by version 2)
"$XIPVM" convert --compress none trace/basic.trace tracebin/v2-basic-raw.xvt
"$XIPVM" convert --compress none trace/errors.trace tracebin/v2-errors-raw.xvt

# ffs, more of what makefs makes: UFS2 big-endian with 32K blocks, UFS1
# with 64K blocks, a tree 40 directories deep, 30 hard links to one file,
# symlink loops (a pair, a self link, through a parent).
mkdir -p "$tmp/deep" "$tmp/links/a" "$tmp/links/b" "$tmp/loops/d" "$tmp/big"
d="$tmp/deep"
for i in $(seq 1 40); do d="$d/d$i"; done
mkdir -p "$d" && echo bottom >"$d/f"
for i in $(seq 1 20); do head -c $((i * 777)) /dev/urandom >"$tmp/big/f$i"; done
head -c 70000 /dev/urandom >"$tmp/links/a/orig"
for i in $(seq 1 30); do ln "$tmp/links/a/orig" "$tmp/links/b/l$i"; done
ln -s b "$tmp/loops/a"; ln -s a "$tmp/loops/b"; ln -s self "$tmp/loops/self"
ln -s ../d "$tmp/loops/d/up"; ln -s /loops/deeper/../a "$tmp/loops/abs"
makefs -t ffs -M 1m -B big -o version=2,bsize=32768,fsize=4096 \
    ffs/ufs2-big-32k.img "$tmp/big" >/dev/null
makefs -t ffs -M 1m -B little -o version=1,bsize=65536,fsize=8192 \
    ffs/ufs1-little-64k.img "$tmp/big" >/dev/null
makefs -t ffs -M 256k -o version=2,bsize=4096,fsize=512 \
    ffs/ufs2-deep-tree.img "$tmp/deep" >/dev/null
makefs -t ffs -M 512k -B big -o version=1,bsize=8192,fsize=1024 \
    ffs/ufs1-big-hard-links.img "$tmp/links" >/dev/null
makefs -t ffs -M 128k -o version=2,bsize=4096,fsize=512 \
    ffs/ufs2-symlink-loops.img "$tmp/loops" >/dev/null
