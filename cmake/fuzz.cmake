# Fuzzing (issue 10): libFuzzer harnesses in tests/fuzz/fuzz_*.c.
# - With -DCDP_FUZZ=ON (clang only, its own build dir: build-fuzz, see `make fuzz`), the library
#   is instrumented with -fsanitize=fuzzer-no-link,address,undefined and each harness becomes a
#   libFuzzer binary fuzz_<name>.
# - In every other build each harness is linked with tests/fuzz/fuzz_replay.c into
#   fuzz_<name>_replay, which tests/fuzz_regressions_test.sh runs over the committed crash
#   inputs and seeds: no clang needed to keep a fixed crash fixed.
# Included twice from CMakeLists.txt: with CDP_FUZZ_STAGE=flags before any target exists, and
# with CDP_FUZZ_STAGE=targets after the library.
if(CDP_FUZZ_STAGE STREQUAL "flags")
  option(CDP_FUZZ "Build the libFuzzer harnesses (clang; -fsanitize=fuzzer,address,undefined)" OFF)
  if(CDP_FUZZ)
    if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
      message(FATAL_ERROR "CDP_FUZZ needs clang: configure with CC=clang CXX=clang++")
    endif()
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined -g)
    add_link_options(-fsanitize=address,undefined)
  endif()
  return()
endif()

file(GLOB FUZZ_HARNESSES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
list(REMOVE_ITEM FUZZ_HARNESSES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_replay.c)
set(FUZZ_TARGETS "")
foreach(harness ${FUZZ_HARNESSES})
  get_filename_component(harness_name ${harness} NAME_WE)
  if(CDP_FUZZ)
    set(target ${harness_name})
    add_executable(${target} ${harness})
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  else()
    set(target ${harness_name}_replay)
    add_executable(${target} ${harness} ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_replay.c)
  endif()
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/cdp ${CMAKE_SOURCE_DIR}/tests/fuzz)
  target_link_libraries(${target} PRIVATE cdp)
  list(APPEND FUZZ_TARGETS ${target})
endforeach()
add_custom_target(fuzz_all DEPENDS ${FUZZ_TARGETS})
if(NOT CDP_FUZZ)
  # Writes fuzz_avro's seeds (tests/fuzz/make_seeds.sh).
  add_executable(fuzz_avro_seeds ${CMAKE_SOURCE_DIR}/tests/fuzz/avro_seeds.c)
  target_include_directories(fuzz_avro_seeds PRIVATE ${CMAKE_SOURCE_DIR}/cdp)
  target_link_libraries(fuzz_avro_seeds PRIVATE cdp)
endif()
