# Cross-compiling for 64-bit ARM Linux with Debian's gcc-aarch64-linux-gnu / g++-aarch64-linux-gnu
# (scripts/test-arm64.sh). Programs run under qemu-aarch64 (tests through CMAKE_CROSSCOMPILING_EMULATOR).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Debian's cross compiler finds the target's C library in /usr/aarch64-linux-gnu and architecture-
# independent headers (nlohmann-json, Boost) in /usr/include; libraries come from the target's prefix
# and /usr/lib/aarch64-linux-gnu, never from the host's.
# The multiarch arm64 -dev packages (scripts/test-arm64.sh installs them) live under / in
# lib/aarch64-linux-gnu and include/aarch64-linux-gnu: "/" is a second root, searched with this library
# architecture; pkg-config reads only their .pc files.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
set(CMAKE_C_FLAGS_INIT "-isystem /usr/include/aarch64-linux-gnu")
set(CMAKE_CXX_FLAGS_INIT "-isystem /usr/include/aarch64-linux-gnu")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# qemu's -L names the root the programs' dynamic loader and libraries come from. It must be the root of
# the multiarch arm64 C library (libc6:arm64, installed with the -dev packages above), not the cross
# toolchain's /usr/aarch64-linux-gnu: with that prefix qemu starts the cross package's ld-linux-aarch64.so.1
# (libc6-arm64-cross, an older 2.36 build) while the loader, through /etc/ld.so.cache, picks libc.so.6
# from /lib/aarch64-linux-gnu (libc6:arm64, a newer 2.36 build). ld.so and libc.so share private
# structures, so that pair is not a working C library: the first pthread_create spins for ever (it
# looked like a thread-pool hang). /usr/aarch64-linux-gnu stays the fallback where no multiarch C library is
# installed.
find_program(G4_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(G4_QEMU_AARCH64)
  if(EXISTS /lib/ld-linux-aarch64.so.1 AND EXISTS /lib/aarch64-linux-gnu/libc.so.6)
    set(G4_QEMU_ROOT /)
  else()
    set(G4_QEMU_ROOT /usr/aarch64-linux-gnu)
  endif()
  set(CMAKE_CROSSCOMPILING_EMULATOR ${G4_QEMU_AARCH64} -L ${G4_QEMU_ROOT})
endif()
