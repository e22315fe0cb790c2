# PostgreSQL tests. Included at the end of the root CMakeLists.txt. Each test runs under
# scripts/with-postgres.sh, which starts a throwaway PostgreSQL cluster for the test alone
# (temporary directory, unix socket plus 127.0.0.1 on a free port), exports SB_TEST_PG_URL,
# runs the command and stops the server. No PostgreSQL installed is a failure, never a skip:
# make test installs it (scripts/deps.sh).
set(SB_WITH_PG ${PROJECT_SOURCE_DIR}/scripts/with-postgres.sh)

# The store conformance suite against PostgreSQL (the plain unit.store.test_store_conformance
# runs the SQLite cases; with SB_TEST_PG_URL set the same binary also runs PostgreSQL).
if(TARGET store_test_store_conformance)
  add_test(NAME unit.store.test_store_conformance_pg
           COMMAND ${SB_WITH_PG} $<TARGET_FILE:store_test_store_conformance>)
  set_tests_properties(unit.store.test_store_conformance_pg PROPERTIES TIMEOUT 600
   
    ENVIRONMENT "SB_SOURCE_DIR=${PROJECT_SOURCE_DIR};SB_BUILD_DIR=${PROJECT_BINARY_DIR}")
endif()

# Scale-out: switchboard nodes on one PostgreSQL database (tests/integration/pg_*.test.mjs fail
# without SB_TEST_PG_URL; the generic node.* registration leaves them out).
find_program(SB_PG_NODE node)
file(GLOB sb_pg_node_tests CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/integration/pg_*.test.mjs)
if(SB_PG_NODE)
  foreach(t IN LISTS sb_pg_node_tests)
    get_filename_component(tn ${t} NAME_WE)
    add_test(NAME node.${tn}_pg
             COMMAND ${SB_WITH_PG} ${SB_PG_NODE} --test --test-reporter=spec ${t}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(node.${tn}_pg PROPERTIES TIMEOUT 600 RUN_SERIAL TRUE
      FAIL_REGULAR_EXPRESSION "ℹ (skipped|todo) [1-9]"
      ENVIRONMENT "SWITCHBOARD_BIN=$<TARGET_FILE:switchboard>;SB_BUILD_DIR=${PROJECT_BINARY_DIR}")
  endforeach()
endif()
