#!/usr/bin/env python3
"""compare_llamacpp.py - our engine and llama.cpp on the same GGUF files, back to back, same threads.

For each file: `gemma4 bench --json` (ours) and ../shared/peer/bench.mjs (llama.cpp via node-llama-cpp),
pp<N> and tg<M> t/s (medians of --reps, wall clock for both), the ratio ours/llama.cpp, each engine's
fraction of the decode bandwidth roofline (weight bytes read per token from the file / bandwidth) and of
the AMX INT8 peak for prefill (2 x multiply-adds per token / peak), and each engine's peak RSS.

  python3 bench/compare_llamacpp.py --bin build/gemma4 --peer /tmp/peer --threads 2 --pp 512 --tg 128 \
      --reps 3 e2b-q8_0.gguf e2b-q4_0.gguf [--measure] [--bw 30.7e9] [--amx 12.6e12] [--json out.json]
      [--depth 8192] [--chunk 512] [--kv f16] [--flash on]

At depth, the tg test runs after --depth cached tokens (prefilled untimed) in both engines; prompts are fed
in --chunk-token passes by both (ours --chunk, llama.cpp --batch). Peak RSS includes the KV cache at that
depth.

Bytes per token: every matrix of the layers plus the tied lm_head (token_embd once more when there is no
output.weight); token_embd and per_layer_token_embd are row lookups; MoE expert tensors count top_k/E of
their size (gguf_sizes.py counts all experts). Defaults for bandwidth (30.7 GB/s, 2 threads) and AMX INT8
peak (12.6 TOP/s, 2 cores) come from ../shared/docs/machine.md; --measure replaces them with the read
bandwidth and AVX-512 VNNI int8 peak measured in the same run by build/machine_peaks_bench (the right
ceilings on a CPU without AMX). Standard library only.
"""
import argparse, json, os, struct, subprocess, sys, tempfile, time

# ggml type id: (values per block, bytes per block, name)
TYPES = {0: (1, 4, 'F32'), 1: (1, 2, 'F16'), 2: (32, 18, 'Q4_0'), 3: (32, 20, 'Q4_1'), 6: (32, 22, 'Q5_0'),
         7: (32, 24, 'Q5_1'), 8: (32, 34, 'Q8_0'), 10: (256, 84, 'Q2_K'), 11: (256, 110, 'Q3_K'), 12: (256, 144, 'Q4_K'),
         13: (256, 176, 'Q5_K'), 14: (256, 210, 'Q6_K'), 15: (256, 292, 'Q8_K'), 16: (256, 66, 'IQ2_XXS'),
         17: (256, 74, 'IQ2_XS'), 18: (256, 98, 'IQ3_XXS'), 19: (256, 50, 'IQ1_S'), 20: (32, 18, 'IQ4_NL'),
         21: (256, 110, 'IQ3_S'), 22: (256, 82, 'IQ2_S'), 23: (256, 136, 'IQ4_XS'), 29: (256, 56, 'IQ1_M'),
         30: (1, 2, 'BF16'), 39: (32, 17, 'MXFP4')}
TS = {t: (be, bb) for t, (be, bb, _) in TYPES.items()}
SC = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def gguf_costs(path):
    """(decode bytes/token, multiply-adds/token, arch, type name) from a GGUF's tensor table."""
    with open(path, 'rb') as f:
        b = f.read(64 << 20)
    _, nt, nkv = struct.unpack_from('<IQQ', b, 4)
    p = 24
    kv = {}

    def rs(p):
        n, = struct.unpack_from('<Q', b, p)
        return b[p + 8:p + 8 + n].decode('utf-8', 'replace'), p + 8 + n

    def rv(t, p):
        if t in SC:
            fmt = {0: '<B', 1: '<b', 2: '<H', 3: '<h', 4: '<I', 5: '<i', 6: '<f', 7: '<?', 10: '<Q', 11: '<q', 12: '<d'}[t]
            return struct.unpack_from(fmt, b, p)[0], p + SC[t]
        if t == 8:
            return rs(p)
        at, n = struct.unpack_from('<IQ', b, p)
        p += 12
        if at in SC:
            return None, p + n * SC[at]
        for _ in range(n):
            _, p = rv(at, p)
        return None, p

    for _ in range(nkv):
        k, p = rs(p)
        t, = struct.unpack_from('<I', b, p)
        v, p = rv(t, p + 4)
        kv[k] = v
    arch = kv.get('general.architecture', '?')
    E = kv.get(arch + '.expert_count', 0) or 0
    K = kv.get(arch + '.expert_used_count', 0) or 0
    tensors = {}
    for _ in range(nt):
        name, p = rs(p)
        nd, = struct.unpack_from('<I', b, p)
        p += 4
        dims = struct.unpack_from('<%dQ' % nd, b, p)
        p += 8 * nd
        ty, off = struct.unpack_from('<IQ', b, p)
        p += 12
        n = 1
        for d in dims:
            n *= d
        be, bb = TS.get(ty, (1, 0))
        tensors[name] = (n, n // be * bb, nd, ty)
    dec_bytes = macs = 0
    for name, (n, nb, nd, ty) in tensors.items():
        if name in ('token_embd.weight', 'per_layer_token_embd.weight'):
            continue
        frac = (K / E) if ('_exps' in name and E) else 1.0
        dec_bytes += nb * frac
        if nd >= 2:
            macs += n * frac
    if 'output.weight' not in tensors and 'token_embd.weight' in tensors:
        n, nb, _, _ = tensors['token_embd.weight']
        dec_bytes += nb
        macs += n
    types = {}
    for name, (n, nb, nd, ty) in tensors.items():
        if nd >= 2:
            types[ty] = types.get(ty, 0) + nb
    main_type = max(types, key=types.get) if types else 0
    name = TYPES[main_type][2] if main_type in TYPES else str(main_type)
    return dec_bytes, macs, arch, name, sum(v[1] for v in tensors.values())


def run(cmd, env=None):
    """Runs cmd, returns (stdout, stderr, peak RSS MiB of that child, seconds)."""
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    out, err = proc.communicate()
    # communicate() reaped the child already; its rusage is folded into RUSAGE_CHILDREN, so measure with
    # /usr/bin/time when available.
    return out, err, proc.returncode, time.time() - t0


def timed(cmd):
    """Runs cmd under /usr/bin/time -f %M (peak RSS KiB) when present."""
    if os.path.exists('/usr/bin/time'):
        with tempfile.NamedTemporaryFile('r', suffix='.rss') as tf:
            out, err, rc, secs = run(['/usr/bin/time', '-f', '%M', '-o', tf.name] + cmd)
            try:
                rss = int(open(tf.name).read().strip().splitlines()[-1]) / 1024.0
            except Exception:
                rss = float('nan')
    else:
        out, err, rc, secs = run(cmd)
        rss = float('nan')
    if rc != 0:
        sys.stderr.write(err[-4000:])
        raise SystemExit('command failed (%d): %s' % (rc, ' '.join(cmd)))
    return out, err, rss, secs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('files', nargs='+')
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument('--bin', default=os.path.join(here, '..', 'build', 'gemma4'))
    ap.add_argument('--peer', default='/tmp/peer', help='folder with bench.mjs and node_modules (npm install done)')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--pp', type=int, default=512)
    ap.add_argument('--tg', type=int, default=128)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--depth', type=int, default=0, help='tokens in the cache (prefilled untimed) before tg, both engines')
    ap.add_argument('--chunk', type=int, default=512,
                    help='prompt tokens per forward pass: ours --chunk, llama.cpp --batch/--ubatch (its default is 512)')
    ap.add_argument('--kv', default='f16', help='KV cache type of both engines (f16, q8_0, ...)')
    ap.add_argument('--flash', default='on', help="llama.cpp's flash attention (on: its faster setting at depth)")
    ap.add_argument('--bw', type=float, default=30.7e9, help='DRAM bandwidth, bytes/s (machine.md: 30.7e9 for 2 threads)')
    ap.add_argument('--amx', type=float, default=12.6e12, help='AMX INT8 peak, op/s (machine.md: 12.6e12 for 2 cores)')
    ap.add_argument('--measure', action='store_true',
                    help='measure bandwidth and the VNNI int8 peak now (machine_peaks_bench beside --bin)')
    ap.add_argument('--json', help='write all numbers here')
    a = ap.parse_args()
    peak_name = 'AMX INT8 (machine.md)'
    if a.measure:
        tool = os.path.join(os.path.dirname(os.path.abspath(a.bin)), 'machine_peaks_bench')
        m = json.loads(subprocess.run([tool, '--threads', str(a.threads)], capture_output=True, text=True,
                                      check=True).stdout.strip().splitlines()[-1])
        a.bw = m['read_bw']
        if m['int8_ops'] > 0:
            a.amx = m['int8_ops']
            peak_name = '%s int8 (measured)' % m['int8_isa']
        sys.stderr.write('measured: read %.1f GB/s, int8 %.2f TOP/s\n' % (a.bw / 1e9, a.amx / 1e12))
    rows = []
    for f in a.files:
        dec_bytes, macs, arch, wtype, total = gguf_costs(f)
        ours_cmd = [a.bin, 'bench', '--model', f, '--pp', str(a.pp), '--tg', str(a.tg), '--reps', str(a.reps),
                    '--threads', str(a.threads), '--depth', str(a.depth), '--chunk', str(a.chunk), '--kv-type', a.kv,
                    '--json']
        out, err, ours_rss, ours_s = timed(ours_cmd)
        ours = json.loads(out.strip().splitlines()[-1])
        with tempfile.NamedTemporaryFile('r', suffix='.json') as tf:
            ctx = max(a.pp, a.depth + a.tg, 64) + 256
            peer_cmd = ['node', os.path.join(a.peer, 'bench.mjs'), '--model', f, '--pp', str(a.pp), '--tg', str(a.tg),
                        '--reps', str(a.reps), '--threads', str(a.threads), '--depth', str(a.depth), '--ctx', str(ctx),
                        '--batch', str(a.chunk), '--flash', a.flash, '--kv', a.kv, '--json', tf.name]
            if a.depth > 0:
                # bench.mjs's warm-up tg would prefill the whole depth once more (untimed, 35 min at 32K on
                # E2B); the untimed depth prefill before the timed tg already warms it, as ours does.
                peer_cmd += ['--warmup', '0']
            _, _, peer_rss, peer_s = timed(peer_cmd)
            peer = json.load(open(tf.name))
        res = {r['test']: r for r in peer['results']}
        tg_name = 'tg%d' % a.tg + ('@d%d' % a.depth if a.depth else '')
        lpp = res.get('pp%d' % a.pp, {}).get('tokPerSec', float('nan'))
        ltg = res.get(tg_name, {}).get('tokPerSec', float('nan'))
        nan = float('nan')
        ours['pp_tps'] = ours['pp_tps'] if ours.get('pp_tps') is not None else nan
        ours['tg_tps'] = ours['tg_tps'] if ours.get('tg_tps') is not None else nan
        pp_bound = a.amx / (2.0 * macs)
        tg_bound = a.bw / dec_bytes
        row = dict(file=os.path.basename(f), arch=arch, type=wtype, file_gb=total / 1e9, bytes_per_token_gb=dec_bytes / 1e9,
                   macs_per_token_g=macs / 1e9, ours_pp=ours['pp_tps'], ours_tg=ours['tg_tps'], llama_pp=lpp, llama_tg=ltg,
                   llama_pp_core=res.get('pp%d' % a.pp, {}).get('coreTokPerSec'), llama_tg_core=res.get(tg_name, {}).get('coreTokPerSec'),
                   depth=a.depth, kv=a.kv,
                   pp_ratio=ours['pp_tps'] / lpp, tg_ratio=ours['tg_tps'] / ltg, tg_bound=tg_bound, pp_bound=pp_bound,
                   ours_tg_roof=ours['tg_tps'] / tg_bound, llama_tg_roof=ltg / tg_bound,
                   ours_pp_roof=ours['pp_tps'] / pp_bound, llama_pp_roof=lpp / pp_bound,
                   ours_rss_mib=ours_rss, llama_rss_mib=peer_rss, ours_wall_s=ours_s, llama_wall_s=peer_s,
                   loadavg=os.getloadavg()[0])
        rows.append(row)
        sys.stderr.write('done %s (load average %.1f)\n' % (f, row['loadavg']))
    print('threads %d, pp%d / tg%d at depth %d, %s KV, chunk %d, llama.cpp flash %s, median of %d; decode roofline '
          '(weights only) at %.1f GB/s, prefill at %.2f TOP/s %s' %
          (a.threads, a.pp, a.tg, a.depth, a.kv, a.chunk, a.flash, a.reps, a.bw / 1e9, a.amx / 1e12, peak_name))
    hdr = ('| file | type | GB/token | ours pp | llama pp | ratio | ours tg | llama tg | ratio | tg roofline | ours %roof tg | '
           'llama %roof tg | ours %peak pp | llama %peak pp | ours RSS MiB | llama RSS MiB |')
    print(hdr)
    print('|' + '---|' * (hdr.count('|') - 1))
    for r in rows:
        print('| %s | %s | %.3f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %.0f%% | %.0f%% | %.1f%% | %.1f%% | %.0f | %.0f |' % (
            r['file'], r['type'], r['bytes_per_token_gb'], r['ours_pp'], r['llama_pp'], r['pp_ratio'], r['ours_tg'], r['llama_tg'],
            r['tg_ratio'], r['tg_bound'], 100 * r['ours_tg_roof'], 100 * r['llama_tg_roof'], 100 * r['ours_pp_roof'],
            100 * r['llama_pp_roof'], r['ours_rss_mib'], r['llama_rss_mib']))
    if a.json:
        with open(a.json, 'w') as fo:
            json.dump(rows, fo, indent=2)


if __name__ == '__main__':
    main()
