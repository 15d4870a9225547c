#pragma once
// The target architecture, for the code that exists on one only (intrinsics, cpuid, AMX system calls).
// CMake picks the kernel files by name to match: *avx*/*amx* on x86-64, *neon* on ARM64.
#if defined(__x86_64__) || defined(__i386__)
#define G4_X86 1
#else
#define G4_X86 0
#endif
#if defined(__aarch64__)
#define G4_ARM64 1
#else
#define G4_ARM64 0
#endif
