# Builds as packagers and operators see them: the Release builds with gcc and clang, the
# sd_notify readiness test, the Debian package. Included at the end of the root
# CMakeLists.txt.

# A packager's plain Release build, with both compilers, into a temporary directory (with
# -Werror, so that warnings only -O3 or clang shows fail here). The builds do not depend on
# this build directory, so a sanitizer build does not repeat them.
if(NOT SB_SANITIZE)
  foreach(cc gcc clang)
    add_test(NAME build.release_${cc}
             COMMAND ${PROJECT_SOURCE_DIR}/tests/build/release_build.sh ${cc} Release)
    set_tests_properties(build.release_${cc} PROPERTIES TIMEOUT 1800 RUN_SERIAL TRUE)
  endforeach()
endif()
