# install.cmake - run at install time (make install, cmake --install, cpack;
# CMakeLists.txt includes it with DROVER_SYSTEMD_DIR set to this folder and
# DROVER_SYSTEMD_STAGING to a folder of the build for the rewritten units):
# installs the systemd units into PREFIX/lib/systemd/system and the example
# settings files into SYSCONFDIR/drover, SYSCONFDIR being /etc for the
# prefix /usr (the Debian package) and PREFIX/etc otherwise, as
# GNUInstallDirs has it.  The units as written here name /usr/bin and
# /etc/drover; another prefix gets them rewritten to its own paths (systemd
# reads /usr/local/lib/systemd/system too).  A settings file already
# installed is the operator's and is left as it is.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(sysconfdir /etc)
else()
  set(sysconfdir ${CMAKE_INSTALL_PREFIX}/etc)
endif()
set(staging ${DROVER_SYSTEMD_STAGING})
file(REMOVE_RECURSE ${staging})

file(GLOB units ${DROVER_SYSTEMD_DIR}/*.service)
foreach(unit ${units})
  get_filename_component(name ${unit} NAME)
  file(READ ${unit} text)
  string(REPLACE "/usr/bin/" "${CMAKE_INSTALL_PREFIX}/bin/" text "${text}")
  string(REPLACE "/usr/share/doc/drover/" "${CMAKE_INSTALL_PREFIX}/share/doc/drover/" text "${text}")
  string(REPLACE "/etc/drover/" "${sysconfdir}/drover/" text "${text}")
  file(WRITE ${staging}/units/${name} "${text}")
endforeach()
file(INSTALL ${staging}/units/ DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/systemd/system
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

file(GLOB settings ${DROVER_SYSTEMD_DIR}/*.conf)
foreach(file ${settings})
  get_filename_component(name ${file} NAME)
  if(EXISTS "$ENV{DESTDIR}${sysconfdir}/drover/${name}")
    message(STATUS "Keeping: $ENV{DESTDIR}${sysconfdir}/drover/${name}")
  else()
    file(INSTALL ${file} DESTINATION ${sysconfdir}/drover
         FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()
endforeach()
