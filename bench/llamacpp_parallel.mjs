// llamacpp_parallel.mjs: llama.cpp's aggregate decode throughput with several sequences in one context
// (node-llama-cpp batches the sequences' tokens into shared llama_decode calls), the peer figure for
// `gemma4 bench --batch N` and the server's continuous batching.
//
//   node bench/llamacpp_parallel.mjs --peer /tmp/peer --model M.gguf --sequences 1,4,8,16 \
//        [--prompt 32] [--tokens 64] [--threads 2] [--flash on] [--json out.json]
//
// For each sequence count: every sequence reads its own random --prompt-token prompt, then all generate
// --tokens tokens greedily at once; t/s = all generated tokens / wall time of the generation.
import fs from "node:fs";
import path from "node:path";
import {pathToFileURL} from "node:url";

function parseArgs(argv) {
    const o = {peer: "/tmp/peer", sequences: "1,4,8", prompt: 32, tokens: 64, threads: 2, flash: "on"};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i], next = () => argv[++i];
        switch (a) {
            case "--peer": o.peer = next(); break;
            case "--model": o.model = next(); break;
            case "--sequences": o.sequences = next(); break;
            case "--prompt": o.prompt = Number(next()); break;
            case "--tokens": o.tokens = Number(next()); break;
            case "--threads": o.threads = Number(next()); break;
            case "--flash": o.flash = next(); break;
            case "--json": o.json = next(); break;
            default: throw new Error(`unknown option ${a}`);
        }
    }
    if (!o.model) throw new Error("--model is required");
    return o;
}

const o = parseArgs(process.argv.slice(2));
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(path.join(o.peer, "node_modules/node-llama-cpp/dist/index.js")).href);
const llama = await getLlama({gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true, progressLogs: false,
    maxThreads: 0, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: o.model, gpuLayers: 0});
const vocab = model.fileInfo?.metadata?.tokenizer?.ggml?.tokens?.length ?? 32000;
let s = 42;
const rand = () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 4294967296; };
const randTokens = (n) => Array.from({length: n}, () => 256 + Math.floor(rand() * (vocab - 256)));
const results = [];
for (const n of o.sequences.split(",").map(Number)) {
    const context = await model.createContext({
        contextSize: n * (o.prompt + o.tokens + 64), sequences: n, batchSize: 512,
        threads: {ideal: o.threads, min: o.threads}, flashAttention: o.flash === "on",
        ignoreMemorySafetyChecks: true, failedCreationRemedy: false
    });
    const seqs = Array.from({length: n}, () => context.getSequence());
    await Promise.all(seqs.map((q) => q.evaluateWithoutGeneratingNewTokens(randTokens(o.prompt))));
    const t0 = performance.now();
    let total = 0;
    await Promise.all(seqs.map(async (q) => {
        let count = 0;
        for await (const _t of q.evaluate(randTokens(1), {temperature: 0, yieldEogToken: true})) {
            if (++count >= o.tokens) break;
        }
        total += count;
    }));
    const secs = (performance.now() - t0) / 1000;
    results.push({sequences: n, tokens: total, seconds: secs, tokPerSec: total / secs});
    console.log(`llama.cpp ${n} sequences: ${total} tokens in ${secs.toFixed(2)} s = ${(total / secs).toFixed(2)} t/s`);
    await context.dispose();
}
if (o.json) fs.writeFileSync(o.json, JSON.stringify({model: o.model, threads: o.threads, results}, null, 2));
