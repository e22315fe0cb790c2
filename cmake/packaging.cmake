# Builds as packagers and operators see them: the Release builds with gcc and clang, the
# sd_notify readiness test, the Debian package. Included at the end of the root
# CMakeLists.txt.

# A packager's plain Release build, with both compilers, into a temporary directory (with
# -Werror, so that warnings only -O3 or clang shows fail here). The builds do not depend on
# this build directory, so a sanitizer build does not repeat them.
# gcc RelWithDebInfo is make build itself; clang RelWithDebInfo builds the shipped programs only.
if(NOT SB_SANITIZE)
  foreach(cc gcc clang)
    add_test(NAME build.release_${cc}
             COMMAND ${PROJECT_SOURCE_DIR}/tests/build/release_build.sh ${cc} Release)
    set_tests_properties(build.release_${cc} PROPERTIES TIMEOUT 1800 RUN_SERIAL TRUE)
  endforeach()
  add_test(NAME build.relwithdebinfo_clang
           COMMAND ${PROJECT_SOURCE_DIR}/tests/build/release_build.sh clang RelWithDebInfo
                   switchboard sbctl switchboard_static)
  set_tests_properties(build.relwithdebinfo_clang PROPERTIES TIMEOUT 1800 RUN_SERIAL TRUE)
endif()

# sd_notify: READY=1 once listening, STOPPING=1 on drain (tests/app/test_notify.c plays
# systemd's side of NOTIFY_SOCKET).
add_executable(app_test_notify ${PROJECT_SOURCE_DIR}/tests/app/test_notify.c)
target_include_directories(app_test_notify PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
add_test(NAME app.notify COMMAND app_test_notify $<TARGET_FILE:switchboard>)
set_tests_properties(app.notify PROPERTIES TIMEOUT 120)

# The Debian package: scripts/build-deb.sh into a temporary directory (its own build tree, with
# Debian's hardening flags and -Werror), lintian, contents, the extracted binaries, the unit
# (tests/build/deb_test.sh). `make deb` builds the same package into dist/.
if(NOT SB_SANITIZE)
  add_test(NAME build.deb COMMAND ${PROJECT_SOURCE_DIR}/tests/build/deb_test.sh ${CMAKE_C_COMPILER})
  set_tests_properties(build.deb PROPERTIES TIMEOUT 1800 RUN_SERIAL TRUE)
endif()
