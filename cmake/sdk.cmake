# libswitchboard (the C SDK), sbctl, the example, SDK tests and their install rules.
# Included at the end of the root CMakeLists.txt. The SDK compiles its own client/ sources
# plus the I/O-free codecs src/net/ws/ws_codec.c and src/net/http/http_parse.c and the
# buffers they use, src/base/buf.c (which reports allocation failures instead of aborting, so
# the library never aborts). Everything is built with -fvisibility=hidden; only
# SB_API functions are exported from the shared library.
include(GNUInstallDirs)

file(GLOB sb_sdk_srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/client/*.c)
add_library(sb_sdk_objs OBJECT ${sb_sdk_srcs} ${PROJECT_SOURCE_DIR}/src/net/ws/ws_codec.c
                               ${PROJECT_SOURCE_DIR}/src/net/http/http_parse.c
                               ${PROJECT_SOURCE_DIR}/src/base/buf.c)
set_target_properties(sb_sdk_objs PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_compile_definitions(sb_sdk_objs PRIVATE SB_BUILDING_LIBRARY)
target_include_directories(sb_sdk_objs PRIVATE ${PROJECT_SOURCE_DIR}/include
                                               ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/client)
target_link_libraries(sb_sdk_objs PUBLIC PkgConfig::JANSSON PkgConfig::OPENSSL Threads::Threads)

# The static archive holds one pre-linked object whose hidden symbols are made local, so
# that, like the shared library, it defines only the sb_ API (internal names such as buf_* or
# ws_* cannot clash with a program's own). Tests that reach inside link sb_sdk_objs instead.
set(sb_static_obj ${PROJECT_BINARY_DIR}/switchboard_sdk.o)
add_custom_command(OUTPUT ${sb_static_obj}
  COMMAND ${CMAKE_LINKER} -r -o ${sb_static_obj}.tmp $<TARGET_OBJECTS:sb_sdk_objs>
  COMMAND ${CMAKE_OBJCOPY} --localize-hidden ${sb_static_obj}.tmp ${sb_static_obj}
  COMMAND ${CMAKE_COMMAND} -E remove ${sb_static_obj}.tmp
  DEPENDS $<TARGET_OBJECTS:sb_sdk_objs>
  COMMAND_EXPAND_LISTS VERBATIM)
set_source_files_properties(${sb_static_obj} PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
add_library(switchboard_static STATIC ${sb_static_obj})
set_target_properties(switchboard_static PROPERTIES LINKER_LANGUAGE C)
add_dependencies(switchboard_static sb_sdk_objs) # the objects exist before the pre-link
add_library(switchboard_shared SHARED $<TARGET_OBJECTS:sb_sdk_objs>)
foreach(t switchboard_static switchboard_shared)
  set_target_properties(${t} PROPERTIES OUTPUT_NAME switchboard
    PUBLIC_HEADER ${PROJECT_SOURCE_DIR}/include/switchboard.h)
  target_include_directories(${t} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>)
  target_link_libraries(${t} PUBLIC PkgConfig::JANSSON PkgConfig::OPENSSL Threads::Threads)
endforeach()
set_target_properties(switchboard_shared PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION 0)
target_link_options(switchboard_shared PRIVATE -Wl,--no-undefined)

# sbctl uses only the public API (curl's rule): it links the library and includes only
# switchboard.h (and jansson for printing JSON).
file(GLOB sbctl_srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/cli/*.c)
if(sbctl_srcs)
  add_executable(sbctl ${sbctl_srcs})
  target_link_libraries(sbctl PRIVATE switchboard_static PkgConfig::JANSSON)
  target_compile_definitions(sbctl PRIVATE SB_VERSION="${PROJECT_VERSION}")
endif()

file(GLOB sb_examples CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/examples/*.c)
foreach(e IN LISTS sb_examples)
  get_filename_component(en ${e} NAME_WE)
  add_executable(example_${en} ${e})
  target_link_libraries(example_${en} PRIVATE switchboard_shared)
endforeach()

# C test programs in tests/sdk: test_*.c run as CTest tests; sdk_*.c are drivers that the
# node integration tests (tests/integration/sdk_*.test.mjs) run against the real server.
file(GLOB sdk_tests CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/sdk/test_*.c)
foreach(t IN LISTS sdk_tests)
  get_filename_component(tn ${t} NAME_WE)
  add_executable(sdk_${tn} ${t})
  target_include_directories(sdk_${tn} PRIVATE ${PROJECT_SOURCE_DIR}/src
    ${PROJECT_SOURCE_DIR}/client ${PROJECT_SOURCE_DIR}/tests/unit ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(sdk_${tn} PRIVATE sb_sdk_objs)
  add_test(NAME unit.sdk.${tn} COMMAND sdk_${tn})
  set_tests_properties(unit.sdk.${tn} PROPERTIES TIMEOUT 120)
endforeach()
file(GLOB sdk_drivers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/sdk/sdk_*.c)
foreach(t IN LISTS sdk_drivers)
  get_filename_component(tn ${t} NAME_WE)
  add_executable(${tn} ${t})
  target_link_libraries(${tn} PRIVATE switchboard_static)
endforeach()

# The public header compiles as C99 (pedantic) and as C++.
add_test(NAME sdk.header_c99
  COMMAND ${CMAKE_C_COMPILER} -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only
          -I${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/tests/sdk/header_c99.c)
add_test(NAME sdk.header_c11
  COMMAND ${CMAKE_C_COMPILER} -std=c11 -pedantic -Wall -Wextra -Werror -fsyntax-only
          -I${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/tests/sdk/header_c99.c)
add_test(NAME sdk.header_cxx
  COMMAND ${CMAKE_CXX_COMPILER} -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only
          -I${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/tests/sdk/header_cxx.cpp)

# Install: library, header, pkg-config file, sbctl, man pages (component "sdk").
install(TARGETS switchboard_static switchboard_shared
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk
  PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT sdk)
if(TARGET sbctl)
  install(TARGETS sbctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT sdk)
endif()
file(GLOB sb_man1 CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/man/*.1)
file(GLOB sb_man3 CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/man/*.3)
install(FILES ${sb_man1} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT sdk)
install(FILES ${sb_man3} DESTINATION ${CMAKE_INSTALL_MANDIR}/man3 COMPONENT sdk)
# The .pc file is written at install time so that `cmake --install --prefix P` is honoured.
set(SB_PC_PREFIX "@SB_PC_PREFIX@")
configure_file(${PROJECT_SOURCE_DIR}/cmake/switchboard.pc.in
               ${PROJECT_BINARY_DIR}/switchboard.pc.tmpl @ONLY)
install(CODE "set(SB_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/switchboard.pc.tmpl\"
    \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig/switchboard.pc\" @ONLY)
  message(STATUS \"Installing: \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig/switchboard.pc\")"
  COMPONENT sdk)

# make install DESTDIR=... then a program builds with pkg-config and runs.
# A consumer of a sanitizer build's library needs the sanitizer runtime too.
set(sb_consumer_flags "")
if(SB_SANITIZE)
  set(sb_consumer_flags "-fsanitize=address,undefined")
endif()
add_test(NAME sdk.install_pkgconfig
  COMMAND sh ${PROJECT_SOURCE_DIR}/tests/sdk/install_test.sh ${PROJECT_BINARY_DIR}
          ${PROJECT_SOURCE_DIR} ${CMAKE_C_COMPILER} "${sb_consumer_flags}")
set_tests_properties(sdk.install_pkgconfig PROPERTIES TIMEOUT 300)
