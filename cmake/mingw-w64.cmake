# cmake/mingw-w64.cmake: cross-building heapward for 64-bit Windows with
# Debian's mingw-w64 (package gcc-mingw-w64-x86-64), e.g.
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake
# ci/windows.sh builds with it and runs the tests under Wine: it passes
# -DCMAKE_CROSSCOMPILING_EMULATOR=<wine64> so that ctest (and every
# add_test command naming a target) runs the .exe through Wine.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(HW_MINGW_PREFIX x86_64-w64-mingw32 CACHE STRING "mingw-w64 tool prefix")
set(CMAKE_C_COMPILER ${HW_MINGW_PREFIX}-gcc)
set(CMAKE_CXX_COMPILER ${HW_MINGW_PREFIX}-g++)
set(CMAKE_RC_COMPILER ${HW_MINGW_PREFIX}-windres)

# Headers and libraries from the target's tree only; programs from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${HW_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
