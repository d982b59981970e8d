# The Windows build (scripts/build-windows.sh): device-agent.exe and its tests, cross-compiled
# with mingw-w64. The dependencies are not found as packages: libssh is the static build the
# script made (SB_WINDOWS_DEPS), the header-only libraries come from the script's private
# include dir (SB_WINDOWS_INCLUDE), libgcrypt, libgpg-error and zlib are Debian's mingw builds.
if(NOT SB_WINDOWS_DEPS OR NOT SB_WINDOWS_INCLUDE)
  message(FATAL_ERROR "Windows builds go through scripts/build-windows.sh")
endif()
set(SB_MINGW_LIB /usr/x86_64-w64-mingw32/lib)

# Windows 10 APIs (ConPTY), wide enough headers for RtlGetVersion and the ACL calls.
add_compile_definitions(_WIN32_WINNT=0x0A00 NTDDI_VERSION=0x0A000006 WIN32_LEAN_AND_MEAN NOMINMAX
                        LIBSSH_STATIC SPDLOG_HEADER_ONLY FMT_HEADER_ONLY
                        BOOST_ASIO_NO_DEPRECATED)
add_compile_options(-Wall -Wextra -Wno-deprecated-declarations)
# One executable that needs nothing but Windows' own DLLs.
add_link_options(-static -static-libgcc -static-libstdc++)

add_library(PkgConfig::LIBSSH INTERFACE IMPORTED)
target_include_directories(PkgConfig::LIBSSH INTERFACE ${SB_WINDOWS_DEPS}/include)
target_link_libraries(PkgConfig::LIBSSH INTERFACE ${SB_WINDOWS_DEPS}/lib/libssh.a
  ${SB_MINGW_LIB}/libgcrypt.a ${SB_MINGW_LIB}/libgpg-error.a ${SB_MINGW_LIB}/libz.a
  ws2_32 iphlpapi)
add_library(sb_headers INTERFACE)
target_include_directories(sb_headers SYSTEM INTERFACE ${SB_WINDOWS_INCLUDE})
foreach(alias Boost::headers spdlog::spdlog nlohmann_json::nlohmann_json CLI11::CLI11)
  string(MAKE_C_IDENTIFIER ${alias} name)
  add_library(${name} INTERFACE)
  target_link_libraries(${name} INTERFACE sb_headers)
  add_library(${alias} ALIAS ${name})
endforeach()
target_link_libraries(Boost__headers INTERFACE ws2_32 mswsock)
add_library(Threads::Threads INTERFACE IMPORTED)
target_link_libraries(Threads::Threads INTERFACE pthread bcrypt)

add_compile_definitions(SB_VERSION="${PROJECT_VERSION}")
add_subdirectory(common)
add_subdirectory(keys)
add_subdirectory(device-agent)
# The version in the executable's properties (Explorer, Get-Item ...).VersionInfo).
configure_file(${PROJECT_SOURCE_DIR}/device-agent/windows/version.rc.in
               ${PROJECT_BINARY_DIR}/device-agent/version.rc @ONLY)
target_sources(device-agent PRIVATE ${PROJECT_BINARY_DIR}/device-agent/version.rc)
if(SB_BUILD_TESTS)
  add_subdirectory(tests/windows)
endif()
