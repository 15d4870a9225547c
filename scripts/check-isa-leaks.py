#!/usr/bin/env python3
"""Fails when a weak (link-once) function in the given objects or static libraries uses instructions beyond
the binary's baseline ISA.

Kernel files compile parts of themselves for wider ISAs (AVX2, AVX-512, AMX on x86; dot-product on
ARM64). Inline and template functions from headers (std::vector's members, project helpers) are emitted as
weak symbols in every object that uses them, and the linker keeps one copy: if a kernel file compiled its
copy for AVX-512, a CPU without AVX-512 could end up running it wherever the function is called. So no weak
function may contain a wide instruction. TU-local functions (anonymous namespaces, static) are not weak
and may use anything.

usage: check-isa-leaks.py [--objdump PROG] [--nm PROG] [--arch x86_64|aarch64] FILE...
"""
import argparse
import re
import subprocess
import sys

# Baseline x86-64 has SSE2 only: VEX/EVEX mnemonics start with 'v', ymm/zmm/mask registers and the BMI2,
# AMX instructions are all beyond it.
X86_WIDE = re.compile(r"%[yz]mm\d|%k[0-7]\b|^(v\w+|shlx|shrx|sarx|rorx|pdep|pext|mulx|bzhi|tdp\w+|tile\w+|ldtilecfg)\b")
# Baseline ARMv8-A has NEON (Advanced SIMD); the dot-product, i8mm and SVE instructions are optional.
ARM_WIDE = re.compile(r"^(sdot|udot|usdot|sudot|smmla|ummla|usmmla|bfdot|bfmmla|whilelo|ptrue)\b|\bz\d+\.")


def weak_symbols(nm, files):
    out = subprocess.run([nm, "--defined-only", *files], check=True, capture_output=True, text=True).stdout
    weak = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("W", "V"):
            weak.add(parts[2])
    return weak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objdump", default="objdump")
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--arch", default="x86_64")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    args.files = [f for arg in args.files for f in arg.split(";") if f]  # CMake passes lists joined by ';'
    wide = ARM_WIDE if args.arch == "aarch64" else X86_WIDE
    weak = weak_symbols(args.nm, args.files)
    dis = subprocess.run([args.objdump, "-d", "-w", "--no-show-raw-insn", *args.files], check=True,
                         capture_output=True, text=True).stdout
    header = re.compile(r"^[0-9a-f]+ <(.+)>:$")
    current, bad = None, {}
    for line in dis.splitlines():
        m = header.match(line)
        if m:
            current = m.group(1) if m.group(1) in weak else None
            continue
        if current is None or "\t" not in line:
            continue
        insn = line.split("\t", 1)[1].strip()
        if wide.search(insn):
            bad.setdefault(current, insn)
    if not weak:
        print("check-isa-leaks: no weak symbols found (wrong files?)", file=sys.stderr)
    for sym, insn in sorted(bad.items()):
        name = subprocess.run(["c++filt", sym], capture_output=True, text=True).stdout.strip() or sym
        print(f"wide instruction in weak function {name}: {insn}")
    if bad:
        print(f"check-isa-leaks: {len(bad)} weak function(s) compiled for a wider ISA than the binary",
              file=sys.stderr)
        return 1
    print(f"check-isa-leaks: {len(weak)} weak functions, none uses a wide instruction")
    return 0


if __name__ == "__main__":
    sys.exit(main())
