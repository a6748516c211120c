# Finds Arrow C++ and Parquet as PyPI's `pyarrow` wheel ships them (headers in pyarrow/include, the
# libraries as pyarrow/libarrow.so.NNNN and libparquet.so.NNNN, no unversioned names), the way
# LatheTorch.cmake finds LibTorch in torch's wheel. Order: LATHE_PYARROW_DIR, else .venv (packaging/setup.sh
# installs a pinned pyarrow there), else any `python3` on PATH that has pyarrow.
# Defines the imported target lathe::parquet and sets LATHE_HAS_PARQUET; without pyarrow, Parquet stays
# out of the build and reading a .parquet file is a clear error.

option(LATHE_PARQUET "Read .parquet datasets with Arrow C++ from the pyarrow wheel" ON)
set(LATHE_HAS_PARQUET OFF)

if(LATHE_PARQUET)
  if(NOT LATHE_PYARROW_DIR)
    file(GLOB _lathe_pyarrow_dirs "${PROJECT_SOURCE_DIR}/.venv/lib/python3*/site-packages/pyarrow")
    if(_lathe_pyarrow_dirs)
      list(GET _lathe_pyarrow_dirs 0 _lathe_pyarrow_dir)
    else()
      find_package(Python3 COMPONENTS Interpreter QUIET)
      if(Python3_Interpreter_FOUND)
        execute_process(COMMAND "${Python3_EXECUTABLE}" -c "import pyarrow, os; print(os.path.dirname(pyarrow.__file__))"
                        OUTPUT_VARIABLE _lathe_pyarrow_dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      endif()
    endif()
    if(_lathe_pyarrow_dir)
      set(LATHE_PYARROW_DIR "${_lathe_pyarrow_dir}" CACHE PATH "The pyarrow package folder (Arrow C++ headers and libraries)")
    endif()
  endif()

  # The versioned names (libarrow.so.2600): link them by full path; their SONAMEs are what the binaries
  # then ask for, found through the build RPATH CMake adds for them.
  file(GLOB _lathe_libarrow "${LATHE_PYARROW_DIR}/libarrow.so.[0-9]*")
  file(GLOB _lathe_libparquet "${LATHE_PYARROW_DIR}/libparquet.so.[0-9]*")
  if(LATHE_PYARROW_DIR AND EXISTS "${LATHE_PYARROW_DIR}/include/parquet/arrow/reader.h" AND _lathe_libarrow AND _lathe_libparquet)
    list(SORT _lathe_libarrow)
    list(SORT _lathe_libparquet)
    list(GET _lathe_libarrow 0 _lathe_libarrow)      # libarrow.so.2600 sorts before libarrow.so.2600.1.0
    list(GET _lathe_libparquet 0 _lathe_libparquet)
    add_library(lathe_arrow_lib SHARED IMPORTED GLOBAL)
    set_target_properties(lathe_arrow_lib PROPERTIES IMPORTED_LOCATION "${_lathe_libarrow}"
      INTERFACE_INCLUDE_DIRECTORIES "${LATHE_PYARROW_DIR}/include")
    add_library(lathe::parquet SHARED IMPORTED GLOBAL)
    set_target_properties(lathe::parquet PROPERTIES IMPORTED_LOCATION "${_lathe_libparquet}"
      INTERFACE_LINK_LIBRARIES lathe_arrow_lib)
    set(LATHE_HAS_PARQUET ON)
    message(STATUS "Parquet: Arrow C++ from ${LATHE_PYARROW_DIR}")
  else()
    message(WARNING "Parquet: pyarrow not found (run packaging/setup.sh, or set LATHE_PYARROW_DIR); "
                    ".parquet datasets will not be readable")
  endif()
endif()
