# Install rules of the desktop application: `cmake --install BUILD --prefix /usr` lays out what the .deb
# (packaging/package.sh) contains, less the bundled libraries. LibTorch and Arrow come from wheels that
# Debian does not package, so package.sh copies the ones the binaries load into lib/lathe, which the
# binaries find through an $ORIGIN-relative RUNPATH (nothing of the build machine's paths stays in them).
# Everything goes into the component `lathe`.

set(LATHE_PRIVATE_LIBDIR "lib/lathe" CACHE STRING "Where the installed binaries look for the bundled LibTorch and Arrow, relative to the prefix")
string(TIMESTAMP _lathe_today "%Y-%m-%d" UTC)
set(LATHE_RELEASE_DATE "${_lathe_today}" CACHE STRING "Release date written into the AppStream metainfo")

foreach(_target lathe lathe-studio)
  if(TARGET ${_target})
    set_target_properties(${_target} PROPERTIES INSTALL_RPATH "$ORIGIN/../${LATHE_PRIVATE_LIBDIR}")
    install(TARGETS ${_target} RUNTIME DESTINATION bin COMPONENT lathe)
  endif()
endforeach()

# The demo: the tiny model `lathe info` and `lathe-studio --demo` use, and the demo data and run files.
# lathe-studio looks for them in ../share/lathe/resources beside its binary.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/resources/demo-model" DESTINATION share/lathe/resources COMPONENT lathe)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/resources/demo-data" DESTINATION share/lathe/resources COMPONENT lathe
        FILES_MATCHING PATTERN "*.jsonl" PATTERN "*.yaml")

if(TARGET lathe-studio)
  set(_lathe_app_id io.github.lathe.Studio)
  install(FILES "${PROJECT_SOURCE_DIR}/packaging/deb/${_lathe_app_id}.desktop" DESTINATION share/applications COMPONENT lathe)
  configure_file("${PROJECT_SOURCE_DIR}/packaging/deb/${_lathe_app_id}.metainfo.xml"
                 "${PROJECT_BINARY_DIR}/packaging/${_lathe_app_id}.metainfo.xml" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/packaging/${_lathe_app_id}.metainfo.xml" DESTINATION share/metainfo COMPONENT lathe)
  install(FILES "${PROJECT_SOURCE_DIR}/resources/icons/lathe-studio.svg" DESTINATION share/icons/hicolor/scalable/apps COMPONENT lathe)
  install(DIRECTORY "${PROJECT_SOURCE_DIR}/resources/icons/hicolor" DESTINATION share/icons COMPONENT lathe)
endif()
