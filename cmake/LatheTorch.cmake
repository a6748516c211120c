# Finds LibTorch. Order: an explicit Torch_DIR / CMAKE_PREFIX_PATH, else the project-local virtualenv
# that packaging/setup.sh creates (.venv), else any `python3` on PATH that has torch installed.
# Sets LATHE_TORCH_HAS_CUDA and LATHE_TORCH_RPATH_LINK.
# LATHE_TORCH_CUDA=OFF makes a CPU-only build from a CUDA LibTorch (PyPI's Linux wheel is one): only
# libtorch_cpu and libc10 are linked, so the binaries never load libtorch_cuda or the NVIDIA libraries
# (the .deb package, packaging/package.sh, is built that way).

option(LATHE_TORCH_CUDA "Link LibTorch's CUDA libraries when it has them (OFF: a CPU-only build)" ON)

if(NOT Torch_DIR)
  file(GLOB _lathe_torch_dirs "${PROJECT_SOURCE_DIR}/.venv/lib/python3*/site-packages/torch/share/cmake/Torch")
  if(_lathe_torch_dirs)
    list(GET _lathe_torch_dirs 0 _lathe_torch_dir)
    set(Torch_DIR "${_lathe_torch_dir}" CACHE PATH "LibTorch's CMake folder")
  else()
    find_package(Python3 COMPONENTS Interpreter QUIET)
    if(Python3_Interpreter_FOUND)
      execute_process(COMMAND "${Python3_EXECUTABLE}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
                      OUTPUT_VARIABLE _lathe_torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      if(_lathe_torch_prefix)
        set(Torch_DIR "${_lathe_torch_prefix}/Torch" CACHE PATH "LibTorch's CMake folder")
      endif()
    endif()
  endif()
endif()

# Without a GPU, Torch's CMake probes for one to choose CUDA architectures and fails; naming them skips
# the probe. 8.0 = A100, 9.0 = H100/H200.
if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(ENV{TORCH_CUDA_ARCH_LIST} "8.0;9.0")
endif()

find_package(Torch REQUIRED)
message(STATUS "LibTorch ${Torch_VERSION} from ${Torch_DIR}")

set(LATHE_TORCH_HAS_CUDA OFF)
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
  set(LATHE_TORCH_HAS_CUDA ON)
endif()

if(LATHE_TORCH_HAS_CUDA AND NOT LATHE_TORCH_CUDA)
  # libtorch.so pulls in libtorch_cuda (and through it cuDNN, cuBLAS, NCCL...); torch_cpu_library is
  # libtorch_cpu + libc10 with their compile definitions. The include folders and compile options are
  # the ones `torch` would have given.
  add_library(lathe_torch_cpu INTERFACE IMPORTED)
  set_target_properties(lathe_torch_cpu PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${TORCH_INCLUDE_DIRS}"
    INTERFACE_COMPILE_OPTIONS "$<TARGET_PROPERTY:torch,INTERFACE_COMPILE_OPTIONS>"
    INTERFACE_LINK_LIBRARIES "torch_cpu_library;c10")
  set(TORCH_LIBRARIES lathe_torch_cpu)
  set(LATHE_TORCH_HAS_CUDA OFF)
  message(STATUS "LibTorch: CPU-only link (LATHE_TORCH_CUDA=OFF), libtorch_cuda stays out")
endif()

# The wheel's CUDA libraries live in site-packages/nvidia/*/lib. The machine's own copies (e.g. libnccl)
# would otherwise shadow them at link time, so point the linker at the wheel's.
get_filename_component(_lathe_site_packages "${Torch_DIR}/../../../.." ABSOLUTE)
file(GLOB _lathe_nvidia_libs LIST_DIRECTORIES true "${_lathe_site_packages}/nvidia/*/lib" "${_lathe_site_packages}/nvidia/cu*/lib")
set(LATHE_TORCH_RPATH_LINK "")
foreach(_dir IN LISTS _lathe_nvidia_libs)
  if(IS_DIRECTORY "${_dir}")
    string(APPEND LATHE_TORCH_RPATH_LINK " -Wl,-rpath-link,${_dir}")
  endif()
endforeach()

# NCCL's header (c10d's ProcessGroupNCCL.hpp includes it) is in the CUDA wheel's nvidia/nccl package.
set(LATHE_NCCL_INCLUDE_DIR "")
if(LATHE_TORCH_HAS_CUDA AND EXISTS "${_lathe_site_packages}/nvidia/nccl/include/nccl.h")
  set(LATHE_NCCL_INCLUDE_DIR "${_lathe_site_packages}/nvidia/nccl/include")
endif()
