# `cmake --install` rules (GNUInstallDirs), one component per Debian package (cmake/package_deb.cmake):
#   relay     relay, relay(1), switchboard-relay.service, its bash completion
#   agent     device-agent, device-agent(1), switchboard-agent.service, its bash completion
#   operator  operator-cli, operator-cli(1), its bash completion
# Units go to PREFIX/lib/systemd/system (systemd reads /usr/lib/... and /usr/local/lib/... alike);
# their ExecStart names the installed binary. Man pages are written from --help by help2man at
# install time (packaging/man-page.sh), skipped with a warning where help2man is missing.
include(GNUInstallDirs)

set(SB_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where the systemd units are installed, relative to the install prefix")

# The units in systemd/ name /usr/local/bin, where the manual install of systemd/README.md puts the
# binaries; the installed copies name BINDIR under the prefix actually installed to (cpack installs
# with prefix /usr). The prefix is only known at install time, hence the install(CODE).
function(sb_install_unit unit component)
  set(src "${PROJECT_SOURCE_DIR}/systemd/${unit}")
  set(out "${PROJECT_BINARY_DIR}/installed-units/${component}/${unit}")
  install(CODE "
    file(READ \"${src}\" text)
    string(REPLACE \"/usr/local/bin/\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/\" text \"\${text}\")
    file(WRITE \"${out}\" \"\${text}\")
    message(STATUS \"unit: ${unit}: ExecStart in \${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")"
    COMPONENT ${component})
  install(FILES "${out}" DESTINATION "${SB_SYSTEMD_UNIT_DIR}" COMPONENT ${component})
endfunction()

find_program(SB_HELP2MAN help2man)
function(sb_install_man target summary component)
  set(out "${PROJECT_BINARY_DIR}/man/${target}.1")
  if(SB_HELP2MAN)
    install(CODE "
      execute_process(COMMAND bash \"${PROJECT_SOURCE_DIR}/packaging/man-page.sh\"
                        \"$<TARGET_FILE:${target}>\" ${target} \"${summary}\" \"${out}\"
                      RESULT_VARIABLE rc)
      if(NOT rc EQUAL 0)
        message(FATAL_ERROR \"man page for ${target}: packaging/man-page.sh failed\")
      endif()
      execute_process(COMMAND gzip -9nf \"${out}\" RESULT_VARIABLE rc)
      if(NOT rc EQUAL 0)
        message(FATAL_ERROR \"gzip of ${out} failed\")
      endif()"
      COMPONENT ${component})
    install(FILES "${out}.gz" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1" COMPONENT ${component})
  else()
    install(CODE "message(WARNING \"help2man not found: no man page for ${target}\")"
            COMPONENT ${component})
  endif()
endfunction()

# Installed binaries: full RELRO (the GOT read-only after start); stripped (`--strip`, and
# cpack's CPACK_STRIP_FILES) including the compiler's .comment and .note, as Debian's dh_strip does.
function(sb_install_binary target component)
  target_link_options(${target} PRIVATE LINKER:-z,relro LINKER:-z,now)
  install(TARGETS ${target} RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT ${component})
  if(CMAKE_STRIP)
    install(CODE "
      if(CMAKE_INSTALL_DO_STRIP)
        execute_process(COMMAND \"${CMAKE_STRIP}\" --remove-section=.comment --remove-section=.note
          \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/$<TARGET_FILE_NAME:${target}>\")
      endif()"
      COMPONENT ${component})
  endif()
endfunction()

# One completion script for the three commands (it reads each command's --help), installed under
# each command's name: bash-completion loads completions/NAME when NAME is first completed.
function(sb_install_completion command component)
  install(FILES "${PROJECT_SOURCE_DIR}/packaging/bash-completion/switchboard"
          DESTINATION "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" RENAME ${command}
          COMPONENT ${component})
endfunction()

sb_install_binary(relay relay)
sb_install_completion(relay relay)
sb_install_man(relay "switchboard SSH relay and its admin commands" relay)
sb_install_unit(switchboard-relay.service relay)

sb_install_binary(device-agent agent)
sb_install_completion(device-agent agent)
sb_install_man(device-agent "switchboard device agent: a reverse SSH tunnel to a relay" agent)
sb_install_unit(switchboard-agent.service agent)

sb_install_binary(operator-cli operator)
sb_install_completion(operator-cli operator)
sb_install_man(operator-cli "switchboard operator client: attach to a device through a relay" operator)
