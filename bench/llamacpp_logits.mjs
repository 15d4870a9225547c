#!/usr/bin/env node
// llamacpp_logits.mjs - prompt logits of a GGUF file computed by llama.cpp (through node-llama-cpp), compared
// with a fixture's reference logits (Hugging Face transformers, float32).
//
//   node bench/llamacpp_logits.mjs --peer /tmp/peer --model g4-31b-f32.gguf \
//        --ref ../shared/fixtures/hf/g4-31b/reference.safetensors [--threads 2] [--kv f16|f32] [--flash on|off]
//        [--json out.json]
//
// node-llama-cpp exposes next-token probabilities (softmax of the raw logits, greedy sampler, full
// vocabulary) for every evaluated position; log p recovers the logits up to a per-position constant, which
// is fitted (least squares) before comparing. Reports: max |Δlogit| / max |ref| (the fixtures' relative
// error measure), KL(ref || llama.cpp), and top-1 agreement.
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import {pathToFileURL} from "node:url";

function parseArgs(argv) {
    const o = {peer: "/tmp/peer", threads: 2};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i], next = () => argv[++i];
        if (a === "--peer") o.peer = next();
        else if (a === "--model") o.model = next();
        else if (a === "--ref") o.ref = next();
        else if (a === "--threads") o.threads = Number(next());
        else if (a === "--json") o.json = next();
        else if (a === "--kv") o.kv = next();
        else if (a === "--flash") o.flash = next();
        else throw new Error(`unknown argument ${a}`);
    }
    if (!o.model || !o.ref) throw new Error("usage: llamacpp_logits.mjs --model F.gguf --ref reference.safetensors [--peer DIR]");
    return o;
}

function readSafetensors(file) {
    const buf = fs.readFileSync(file);
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8"));
    const base = 8 + n;
    const get = (name) => {
        const t = header[name];
        if (!t) throw new Error(`${file}: no tensor ${name}`);
        const [a, b] = t.data_offsets;
        const bytes = buf.subarray(base + a, base + b);
        const count = t.shape.reduce((x, y) => x * y, 1);
        const out = new Float64Array(count);
        for (let i = 0; i < count; i++) {
            if (t.dtype === "F32") out[i] = bytes.readFloatLE(4 * i);
            else if (t.dtype === "I64") out[i] = Number(bytes.readBigInt64LE(8 * i));
            else if (t.dtype === "I32") out[i] = bytes.readInt32LE(4 * i);
            else throw new Error(`unsupported dtype ${t.dtype}`);
        }
        return {shape: t.shape, data: out};
    };
    return {get};
}

async function main() {
    const o = parseArgs(process.argv.slice(2));
    const {getLlama, LlamaLogLevel} = await import(pathToFileURL(path.join(o.peer, "node_modules/node-llama-cpp/dist/index.js")).href);
    const ref = readSafetensors(o.ref);
    const ids = Array.from(ref.get("input_ids").data);
    const refLogits = ref.get("logits");
    const T = ids.length, V = refLogits.shape[refLogits.shape.length - 1];

    const llama = await getLlama({gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true, progressLogs: false,
        maxThreads: 0, logLevel: LlamaLogLevel.error});
    const model = await llama.loadModel({modelPath: o.model, gpuLayers: 0});
    const context = await model.createContext({contextSize: Math.max(256, T + 8), batchSize: Math.max(64, T), sequences: 1,
        threads: {ideal: o.threads, min: o.threads}, ignoreMemorySafetyChecks: true, failedCreationRemedy: false,
        ...(o.kv ? {experimentalKvCacheKeyType: o.kv.toUpperCase(), experimentalKvCacheValueType: o.kv.toUpperCase()} : {}),
        ...(o.flash ? {flashAttention: o.flash === "on"} : {})});
    const seq = context.getSequence();
    const res = await seq.controlledEvaluate(ids.map((t) => [t, {generateNext: {probabilities: true}}]));

    let maxDiff = 0, maxRef = 0, kl = 0, top1 = 0;
    for (let t = 0; t < T; t++) {
        const probs = res[t]?.next?.probabilities;
        if (!probs || probs.size !== V) throw new Error(`position ${t}: got ${probs?.size} probabilities, expected ${V}`);
        const lp = new Float64Array(V);
        for (const [tok, p] of probs) lp[tok] = Math.log(Math.max(p, 1e-45));
        const r = refLogits.data.subarray(t * V, (t + 1) * V);
        let c = 0;
        for (let i = 0; i < V; i++) c += r[i] - lp[i];
        c /= V;
        let rmax = -Infinity, lmax = -Infinity, ra = 0, la = 0;
        for (let i = 0; i < V; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(lp[i] + c - r[i]));
            maxRef = Math.max(maxRef, Math.abs(r[i]));
            if (r[i] > rmax) { rmax = r[i]; ra = i; }
            if (lp[i] > lmax) { lmax = lp[i]; la = i; }
        }
        if (ra === la) top1++;
        // KL(ref || llama) with ref = softmax(ref logits)
        let z = 0;
        for (let i = 0; i < V; i++) z += Math.exp(r[i] - rmax);
        const lz = Math.log(z) + rmax;
        for (let i = 0; i < V; i++) {
            const lpr = r[i] - lz;
            kl += Math.exp(lpr) * (lpr - lp[i]);
        }
    }
    const out = {model: o.model, ref: o.ref, tokens: T, vocab: V, rel_error: maxDiff / maxRef, max_abs_diff: maxDiff,
        kl_mean: kl / T, top1_agreement: top1 / T, kv_cache: o.kv ?? "f16 (default)", llama_cpp: llama.llamaCppRelease?.release};
    console.log(JSON.stringify(out));
    if (o.json) fs.writeFileSync(o.json, JSON.stringify(out, null, 2));
    await context.dispose();
    await model.dispose();
}

main().catch((e) => { console.error(e.message ?? e); process.exit(1); });
