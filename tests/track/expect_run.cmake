# expect_run.cmake: runs one command and checks its exit status and output.
#
# Usage: cmake -DRC=<status> [-DMATCH=<regex>] [-DALSO=<regex>] [-DREJECT=<regex>]
#              -P expect_run.cmake -- <command> [args...]
# Passes when the command exits with exactly RC, its stdout+stderr matches
# MATCH and ALSO (when given) and does not match REJECT (when given).
# ctest's own PASS_REGULAR_EXPRESSION would ignore the exit status, which is
# half of what the tests/track checks are about.
set(cmd "")
set(seen_dashes FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(seen_dashes)
    list(APPEND cmd "${CMAKE_ARGV${i}}")
  elseif("${CMAKE_ARGV${i}}" STREQUAL "--")
    set(seen_dashes TRUE)
  endif()
endforeach()
if(NOT cmd OR NOT DEFINED RC)
  message(FATAL_ERROR "usage: cmake -DRC=<status> [-DMATCH=re] [-DALSO=re] [-DREJECT=re] "
                      "-P expect_run.cmake -- command...")
endif()

execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
message("${out}")
set(problems "")
if(NOT rc STREQUAL "${RC}")
  string(APPEND problems "exit status ${rc}, expected ${RC}\n")
endif()
foreach(var MATCH ALSO)
  if(DEFINED ${var} AND NOT out MATCHES "${${var}}")
    string(APPEND problems "output does not match '${${var}}'\n")
  endif()
endforeach()
if(DEFINED REJECT AND out MATCHES "${REJECT}")
  string(APPEND problems "output matches '${REJECT}' ('${CMAKE_MATCH_0}')\n")
endif()
if(problems)
  message(FATAL_ERROR "${problems}")
endif()
