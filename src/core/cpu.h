#pragma once
// Run-time CPU feature detection, so one binary picks its kernels on the machine it runs on: on x86-64
// (cpuid + xgetbv) AVX2 / AVX-512 / AMX, on ARM64 (the kernel's hardware capabilities) NEON and the
// dot-product instructions.
namespace g4 {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false;
  bool avx512bf16 = false, avx512fp16 = false, avx_vnni = false;
  bool amx_tile = false, amx_int8 = false, amx_bf16 = false;  // CPU support (OS permission: amx_enable())
  bool neon = false, dotprod = false;  // ARM64: Advanced SIMD (always there) and SDOT/UDOT (ARMv8.2 DotProd)

  // AVX2 + FMA + F16C, the "haswell" level.
  bool has_avx2_level() const { return avx2 && fma && f16c; }
  // AVX-512 F/BW/VL/DQ + VNNI (+ the AVX2 level), the "cascadelake" level.
  bool has_avx512_vnni_level() const {
    return has_avx2_level() && avx512f && avx512bw && avx512vl && avx512dq && avx512vnni;
  }
};

// Detected once; thread-safe.
const CpuFeatures& cpu_features();

// Asks the kernel for permission to use AMX tile data (arch_prctl ARCH_REQ_XCOMP_PERM) once per process.
// Returns true when AMX-TILE/INT8/BF16 are usable. Thread-safe; cheap after the first call.
bool amx_enable();

// A one-line summary such as "avx2 fma f16c avx512f ... amx-int8 amx-bf16".
const char* cpu_feature_string();

}  // namespace g4
