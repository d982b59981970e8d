# `cpack -G DEB` (scripts/build-packages.sh runs it): three packages from the components of
# cmake/install.cmake. Runtime library dependencies come from dpkg-shlibdeps; binaries are stripped.
# The maintainer scripts (packaging/deb/) create the relay's user and data dir and handle the units.
set(SB_PACKAGE_MAINTAINER "switchboard maintainers <switchboard@example.org>" CACHE STRING
    "Maintainer field of the Debian packages")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME switchboard)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${SB_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_THREADS 0)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL relay agent operator)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)

set(pkg "${PROJECT_SOURCE_DIR}/packaging/deb")

set(CPACK_DEBIAN_RELAY_PACKAGE_NAME switchboard-relay)
set(CPACK_DEBIAN_RELAY_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_RELAY_PACKAGE_CONTROL_EXTRA "${pkg}/relay/postinst;${pkg}/relay/prerm;${pkg}/relay/postrm")
set(CPACK_COMPONENT_RELAY_DESCRIPTION "SSH relay for remote IT support
Devices run the switchboard agent, which keeps a reverse SSH tunnel open to
this relay; IT staff connect to the relay with a short session ID or a device
name and their own SSH key, and are bridged into the device: shared terminal,
shells, commands, screen (VNC), SOCKS and port forwards, all audited.

This package installs the relay and its systemd unit, creates the
switchboard system user and /var/lib/switchboard, runs relay init once
and prints the relay's host key fingerprint.")

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME switchboard-agent)
# Operators' scp and sftp are served by OpenSSH's sftp-server (--sftp-server), rsync by rsync.
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "openssh-sftp-server")
set(CPACK_DEBIAN_AGENT_PACKAGE_SUGGESTS "rsync")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA "${pkg}/agent/postinst;${pkg}/agent/prerm;${pkg}/agent/postrm")
set(CPACK_COMPONENT_AGENT_DESCRIPTION "device agent for switchboard remote IT support
Keeps a reverse SSH tunnel from this machine to a switchboard relay, so IT
staff can help it without any inbound port: attended help with a session ID
read out over the phone (device-agent help), or an enrolled, unattended device
that reconnects by itself (switchboard-agent.service).

The unit is installed but not enabled: it needs the relay's address and an
enrollment token first.")

set(CPACK_DEBIAN_OPERATOR_PACKAGE_NAME switchboard-operator)
set(CPACK_DEBIAN_OPERATOR_PACKAGE_DEPENDS "openssh-client")
set(CPACK_COMPONENT_OPERATOR_DESCRIPTION "operator client for switchboard remote IT support
Attaches to a device through a switchboard relay by session ID or name:
terminal, commands, file copies (scp), screen, SOCKS proxy and port
forwards. It runs your own OpenSSH client, so known_hosts, keys and escapes
work as in ssh.")

# /usr/share/doc/PACKAGE: copyright and a Debian changelog, which every package must have.
string(TIMESTAMP sb_changelog_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
foreach(component relay agent operator)
  string(TOUPPER ${component} upper)
  set(package "${CPACK_DEBIAN_${upper}_PACKAGE_NAME}")
  set(docs "${PROJECT_BINARY_DIR}/package-docs/${package}")
  file(WRITE "${docs}/changelog" "${package} (${PROJECT_VERSION}) unstable; urgency=medium

  * Built with CPack from the switchboard sources, version ${PROJECT_VERSION}.

 -- ${SB_PACKAGE_MAINTAINER}  ${sb_changelog_date}
")
  install(CODE "
    execute_process(COMMAND gzip -9nf \"${docs}/changelog\" -c
                    OUTPUT_FILE \"${docs}/changelog.gz\" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR \"gzip of ${docs}/changelog failed\")
    endif()" COMPONENT ${component})
  install(FILES "${docs}/changelog.gz" "${pkg}/copyright"
          DESTINATION "${CMAKE_INSTALL_DATAROOTDIR}/doc/${package}" COMPONENT ${component})
  if(EXISTS "${pkg}/${component}/README.Debian")
    install(FILES "${pkg}/${component}/README.Debian"
            DESTINATION "${CMAKE_INSTALL_DATAROOTDIR}/doc/${package}" COMPONENT ${component})
  endif()
  if(EXISTS "${pkg}/${component}/lintian-overrides")
    install(FILES "${pkg}/${component}/lintian-overrides"
            DESTINATION "${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides" RENAME "${package}"
            COMPONENT ${component})
  endif()
endforeach()

include(CPack)
