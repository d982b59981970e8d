# Fails the build when a source file includes a layer it must not see. Run by the check_layers
# target (part of every build): cmake -DSOURCE_DIR=<repo> -P cmake/check_layers.cmake
#
# Each entry: a folder, then (after |, comma-separated) the folders its files may include besides their own. The folders
# form one-way layers (docs/architecture.md draws them); a folder not listed may include only
# itself and common/. Three headers are owned by one folder each: <sqlite3.h> by relay/store,
# <libssh/...> by common/ssh (and keys/, which reads key files through it), <CLI/...> by the
# command lines and common/cli (what they share, e.g. the duration check).
set(layers
  "common/io|common"
  "common/ssh|common,common/io"
  "keys|common,common/ssh"
  "relay/store|common,keys"
  "relay/audit|common,relay/store"
  "relay/control|common"
  "relay/router|common,common/io,common/ssh,keys,relay/store"
  "relay/bridge|common,common/io,common/ssh,keys,relay/store,relay/audit,relay/router"
  "relay/device|common,common/io,common/ssh,keys,relay/store,relay/audit,relay/router,relay/bridge"
  "relay/operator|common,common/io,common/ssh,keys,relay/store,relay/audit,relay/router,relay/bridge,relay/device"
  "relay/connection|common,common/io,common/ssh,keys,relay/store,relay/audit,relay/router,relay/bridge,relay/device,relay/operator"
  "relay/daemon|common,common/io,common/ssh,keys,relay/store,relay/audit,relay/router,relay/bridge,relay/device,relay/operator,relay/connection,relay/control"
  "relay/admin|common,common/cli,common/io,keys,relay/store,relay/audit,relay/control,relay/daemon"
  "relay|relay/admin"
  "device-agent|common,common/cli,common/io,common/ssh,keys,device-agent/platform"
  "device-agent/platform|common"
  "device-agent/posix|common,common/io,device-agent,device-agent/platform"
  "device-agent/windows|common,common/io,device-agent,device-agent/platform"
  "operator-cli|common,common/cli,common/io")
# Entry points that wire a platform's own verbs (the Windows service) may also include these.
set(entry_points "device-agent/main.cpp|device-agent/windows,device-agent/posix")
set(private_headers "sqlite3.h|relay/store" "libssh/|common/ssh,keys"
    "CLI/|common/cli,relay/admin,device-agent,operator-cli")

set(errors "")
foreach(entry IN LISTS layers)
  string(REPLACE "|" ";" parts "${entry}")
  string(REPLACE "," ";" parts "${parts}")
  list(GET parts 0 folder)
  list(SUBLIST parts 1 -1 allowed)
  string(REPLACE ";" "|" allowed_re "${allowed}")
  file(GLOB sources RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/${folder}/*.cpp"
       "${SOURCE_DIR}/${folder}/*.hpp")
  foreach(source IN LISTS sources)
    file(STRINGS "${SOURCE_DIR}/${source}" includes REGEX "^#include \"")
    foreach(line IN LISTS includes)
      string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" header "${line}")
      get_filename_component(header_dir "${header}" DIRECTORY)
      if(header_dir STREQUAL folder OR header_dir STREQUAL "common")
        continue()
      endif()
      set(extra_re "")
      foreach(entry_point IN LISTS entry_points)
        string(REPLACE "|" ";" ep "${entry_point}")
        list(GET ep 0 ep_source)
        list(GET ep 1 ep_allowed)
        if(ep_source STREQUAL source)
          string(REPLACE "," "|" extra_re "|${ep_allowed}")
        endif()
      endforeach()
      if(NOT header_dir MATCHES "^(${allowed_re}${extra_re})$")
        string(APPEND errors "  ${source} includes ${header}: ${folder}/ may use ${allowed}\n")
      endif()
    endforeach()
  endforeach()
endforeach()

file(GLOB_RECURSE all_sources RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/common/*.[ch]pp"
     "${SOURCE_DIR}/keys/*.[ch]pp" "${SOURCE_DIR}/relay/*.[ch]pp"
     "${SOURCE_DIR}/device-agent/*.[ch]pp" "${SOURCE_DIR}/operator-cli/*.[ch]pp")
foreach(rule IN LISTS private_headers)
  string(REPLACE "|" ";" parts "${rule}")
  string(REPLACE "," ";" parts "${parts}")
  list(GET parts 0 header)
  list(SUBLIST parts 1 -1 owners)
  string(REPLACE ";" "|" owners_re "${owners}")
  string(REPLACE "." "\\." header_re "${header}")
  foreach(source IN LISTS all_sources)
    get_filename_component(source_dir "${source}" DIRECTORY)
    if(source_dir MATCHES "^(${owners_re})(/|$)")
      continue()
    endif()
    file(STRINGS "${SOURCE_DIR}/${source}" hits REGEX "^#include <${header_re}")
    if(hits)
      string(APPEND errors "  ${source} includes <${header}...>: only ${owners} may\n")
    endif()
  endforeach()
endforeach()

if(errors)
  message(FATAL_ERROR "layering: includes that cross a layer the wrong way:\n${errors}")
endif()
