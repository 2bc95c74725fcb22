# hw_mutant_library(NAME PATCH [EXTRA_SOURCES...]): a static library of the
# whole heap (src/, platform/ and the test support) with one planted bug,
# ci/mutants/PATCH, applied to a copy in the build tree; production sources
# carry no planted-bug switch. EXTRA_SOURCES (absolute paths) are compiled
# into it unpatched. A patch that no longer applies fails the build, so a
# mutant cannot silently stop being planted.
find_program(HW_PATCH patch)
function(hw_mutant_library name patch)
  if(NOT HW_PATCH)
    message(FATAL_ERROR "the mutant tests need 'patch' (Debian package patch)")
  endif()
  set(copy ${CMAKE_CURRENT_BINARY_DIR}/${name}-tree)
  set(patch_file ${PROJECT_SOURCE_DIR}/ci/mutants/${patch})
  get_target_property(core hw_core SOURCES)
  get_target_property(pf hw_platform SOURCES)
  get_target_property(ts hw_testsupport SOURCES)
  set(outputs)
  set(inputs)
  foreach(f ${core})
    list(APPEND outputs ${copy}/src/${f})
  endforeach()
  foreach(f ${pf} ${ts})
    list(APPEND outputs ${copy}/platform/${f})
  endforeach()
  file(GLOB_RECURSE inputs ${PROJECT_SOURCE_DIR}/src/*.[ch] ${PROJECT_SOURCE_DIR}/platform/*.[ch])
  add_custom_command(OUTPUT ${outputs}
    COMMAND ${CMAKE_COMMAND} -E rm -rf ${copy}
    COMMAND ${CMAKE_COMMAND} -E copy_directory ${PROJECT_SOURCE_DIR}/src ${copy}/src
    COMMAND ${CMAKE_COMMAND} -E copy_directory ${PROJECT_SOURCE_DIR}/platform ${copy}/platform
    COMMAND ${HW_PATCH} -s -p1 -d ${copy} -i ${patch_file}
    DEPENDS ${inputs} ${patch_file}
    COMMENT "Planting mutant ${patch} in ${name}"
    VERBATIM)
  add_library(${name} STATIC ${outputs} ${ARGN})
  target_include_directories(${name} PUBLIC ${copy}/src ${copy}/src/base ${copy}/src/malloc
    ${copy}/platform ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${name} PUBLIC Threads::Threads ${HW_PLATFORM_OS_LIBS})
  target_compile_definitions(${name} PRIVATE HW_LIBC_SIGACTION=${HW_LIBC_SIGACTION}
    HW_LIBC_CLOSE=${HW_LIBC_CLOSE})
endfunction()
