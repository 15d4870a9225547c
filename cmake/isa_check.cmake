# Test isa_leaks: no weak (link-once) function in the kernel objects may use instructions beyond the
# binary's baseline ISA (scripts/check-isa-leaks.py says why). The kernel files that compile code for
# wider ISAs (those naming a target or using intrinsics) are compiled once more without inlining, so
# that every header function they use is emitted out of line where the check can see its ISA.
get_target_property(g4_quant_srcs g4_quant SOURCES)
set(g4_isa_probe_srcs)
foreach(src ${g4_quant_srcs})
  file(READ ${src} text)
  if(text MATCHES "target\\(|G4_SIMD_AVX512|immintrin\\.h|arm_neon\\.h|kernels_neon")
    list(APPEND g4_isa_probe_srcs ${src})
  endif()
endforeach()
find_package(Python3 COMPONENTS Interpreter)
if(g4_isa_probe_srcs AND Python3_FOUND AND CMAKE_OBJDUMP AND CMAKE_NM)
  add_library(g4_isa_probe OBJECT ${g4_isa_probe_srcs})
  target_include_directories(g4_isa_probe PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(g4_isa_probe PRIVATE nlohmann_json::nlohmann_json)
  target_compile_options(g4_isa_probe PRIVATE -O1 -fno-inline)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
    set(g4_isa_arch aarch64)
  else()
    set(g4_isa_arch x86_64)
  endif()
  add_test(NAME isa_leaks
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/scripts/check-isa-leaks.py --arch ${g4_isa_arch}
                   --objdump ${CMAKE_OBJDUMP} --nm ${CMAKE_NM}
                   $<TARGET_OBJECTS:g4_isa_probe> $<TARGET_FILE:g4_quant>)
endif()
