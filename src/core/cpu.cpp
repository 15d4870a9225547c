#include "core/cpu.h"

#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

namespace g4 {

namespace {

#if defined(__x86_64__) || defined(__i386__)
unsigned long long read_xcr0() {
  unsigned int lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  const unsigned max_leaf = a;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  if (!osxsave) return f;
  const bool fma = (c >> 12) & 1, f16c = (c >> 29) & 1, avx = (c >> 28) & 1;
  const unsigned long long xcr0 = read_xcr0();
  const bool ymm_os = (xcr0 & 0x6) == 0x6;            // SSE + AVX state
  const bool zmm_os = ymm_os && (xcr0 & 0xe0) == 0xe0;  // opmask + ZMM_Hi256 + Hi16_ZMM
  const bool amx_os = (xcr0 & 0x60000) == 0x60000;      // XTILECFG + XTILEDATA
  if (max_leaf < 7 || !avx || !ymm_os) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned b7 = b, c7 = c, d7 = d;
  f.avx2 = (b7 >> 5) & 1;
  f.fma = fma;
  f.f16c = f16c;
  if (zmm_os) {
    f.avx512f = (b7 >> 16) & 1;
    f.avx512dq = (b7 >> 17) & 1;
    f.avx512bw = (b7 >> 30) & 1;
    f.avx512vl = (b7 >> 31) & 1;
    f.avx512vnni = (c7 >> 11) & 1;
    f.avx512fp16 = (d7 >> 23) & 1;
  }
  f.amx_bf16 = amx_os && ((d7 >> 22) & 1);
  f.amx_tile = amx_os && ((d7 >> 24) & 1);
  f.amx_int8 = amx_os && ((d7 >> 25) & 1);
  __cpuid_count(7, 1, a, b, c, d);
  f.avx_vnni = (a >> 4) & 1;
  f.avx512bf16 = zmm_os && ((a >> 5) & 1);
#elif defined(__aarch64__)
  f.neon = true;  // mandatory in ARMv8-A
#if defined(__linux__)
  f.dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__APPLE__)
  int on = 0;
  size_t len = sizeof on;
  f.dotprod = sysctlbyname("hw.optional.arm.FEAT_DotProd", &on, &len, nullptr, 0) == 0 && on;
#endif
#endif
  return f;
}

bool request_amx() {
  const CpuFeatures& f = cpu_features();
  if (!f.amx_tile) return false;
#if defined(__linux__) && defined(__x86_64__)
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool amx_enable() {
  static const bool ok = request_amx();
  return ok;
}

const char* cpu_feature_string() {
  static const std::string s = [] {
    const CpuFeatures& f = cpu_features();
    std::string r;
    auto add = [&](bool on, const char* name) {
      if (!on) return;
      if (!r.empty()) r += ' ';
      r += name;
    };
    add(f.avx2, "avx2");
    add(f.fma, "fma");
    add(f.f16c, "f16c");
    add(f.avx512f, "avx512f");
    add(f.avx512bw, "avx512bw");
    add(f.avx512vl, "avx512vl");
    add(f.avx512dq, "avx512dq");
    add(f.avx512vnni, "avx512vnni");
    add(f.avx512bf16, "avx512bf16");
    add(f.avx512fp16, "avx512fp16");
    add(f.avx_vnni, "avx-vnni");
    add(f.amx_tile, "amx-tile");
    add(f.amx_int8, "amx-int8");
    add(f.amx_bf16, "amx-bf16");
    add(f.neon, "neon");
    add(f.dotprod, "dotprod");
    return r.empty() ? std::string("baseline") : r;
  }();
  return s.c_str();
}

}  // namespace g4
