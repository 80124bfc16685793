# hearth_add_plugin(<kind> <name> SOURCES ... [LIBRARIES ...] [OUTPUT_DIR dir])
#
# Builds libhearth-<kind>-<name>.so as a MODULE against the sdk only, with hidden
# visibility (so same-named symbols in two plugins never shadow each other) and an export
# map that leaves hearth_plugin_entry as the one public symbol. Plugins land in
# <build>/lib/hearth/plugins, the install-relative default search path.
function(hearth_add_plugin kind name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SOURCES;LIBRARIES" ${ARGN})
  set(allowed_kinds backend format kv)
  if(NOT kind IN_LIST allowed_kinds)
    message(FATAL_ERROR "hearth_add_plugin: kind '${kind}' is not one of ${allowed_kinds}")
  endif()
  set(target hearth-${kind}-${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE hearth::sdk ${ARG_LIBRARIES})
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${HEARTH_PLUGIN_OUTPUT_DIR})
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    OUTPUT_NAME hearth-${kind}-${name}
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    target_link_options(${target} PRIVATE
      "LINKER:--version-script=${HEARTH_SDK_DIR}/cmake/plugin.map"
      $<$<NOT:$<BOOL:${HEARTH_SANITIZE}>>:LINKER:--no-undefined>)
  endif()
  if(ARG_OUTPUT_DIR STREQUAL HEARTH_PLUGIN_OUTPUT_DIR)
    install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/hearth/plugins)
    set_property(GLOBAL APPEND PROPERTY HEARTH_PLUGINS ${target})
  endif()
endfunction()
