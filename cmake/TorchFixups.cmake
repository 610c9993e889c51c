# Fix-ups after find_package(Torch) for a LibTorch that is not Debian's:
# PyPI's torch wheel (deploy/torch2.sh) or a LibTorch zip from pytorch.org,
# on a machine that may also have Debian's libtorch-dev (CI has both).
# No-ops for Debian's own LibTorch, whose headers live in /usr/include.
#
# 1. TorchConfig.cmake looks libc10 up with find_library(c10 PATHS <its lib>),
#    and the system directories come before PATHS: with libtorch-dev
#    installed, the link line got Debian's libc10.so (1.13) next to the
#    wheel's libtorch.so. Any such library is replaced by the package's own.
# 2. The wheel and the zips ship third-party headers in include/ next to
#    LibTorch's (protobuf 3.13, fmt 12, pybind11, ...), and that directory
#    comes before /usr/include on every worker compile line: gRPC's generated
#    code then met protobuf 3.13's headers and spdlog fmt 12's, while the
#    libraries we link were built against Debian's. A directory of links to
#    the system's copies of exactly those names is put ahead of Torch's, so
#    the system's win. LibTorch's public headers (torch/torch.h and the CUDA
#    ones) include none of them.
# 3. The wheel's libtorch.so exports the parts of libstdc++ that its build
#    toolchain's libstdc++ lacked (std::filesystem, std::chrono::tzdb, ...,
#    linked in from libstdc++_nonshared.a). Ahead of libstdc++ in the
#    executables' DT_NEEDED order, it served every such call, ours and
#    Debian's libraries' alike, and its std::filesystem::remove_all jumped
#    through a null weak reference: a segfault in each test that removes a
#    directory. libstdc++ named before LibTorch on the link line makes the
#    dynamic linker find the system's copy first.
function(moe4_torch_fixups)
  if(NOT TORCH_INSTALL_PREFIX OR NOT TORCH_INCLUDE_DIRS)
    return()
  endif()

  set(libs)
  foreach(lib IN LISTS TORCH_LIBRARIES)
    if(lib MATCHES "/lib(c10|torch)[a-z_]*\\.so$")
      get_filename_component(name "${lib}" NAME)
      string(FIND "${lib}" "${TORCH_INSTALL_PREFIX}/" at)
      if(NOT at EQUAL 0 AND EXISTS "${TORCH_INSTALL_PREFIX}/lib/${name}")
        message(STATUS "Torch: using ${TORCH_INSTALL_PREFIX}/lib/${name}, not ${lib}")
        set(lib "${TORCH_INSTALL_PREFIX}/lib/${name}")
      endif()
    endif()
    list(APPEND libs "${lib}")
  endforeach()

  list(GET TORCH_INCLUDE_DIRS 0 torch_include)
  get_filename_component(torch_include "${torch_include}" REALPATH)
  set(system_dirs)
  foreach(dir IN LISTS CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
    get_filename_component(dir "${dir}" REALPATH)
    list(APPEND system_dirs "${dir}")
  endforeach()
  set(includes ${TORCH_INCLUDE_DIRS})
  if(NOT torch_include IN_LIST system_dirs)
    set(shim "${CMAKE_BINARY_DIR}/torch-shadowed-headers")
    file(REMOVE_RECURSE "${shim}")
    file(MAKE_DIRECTORY "${shim}")
    file(GLOB entries RELATIVE "${torch_include}" "${torch_include}/*")
    set(shadowed)
    foreach(entry IN LISTS entries)
      if(entry MATCHES "^(ATen|c10|caffe2|torch|THC)$")
        continue()
      endif()
      foreach(dir IN LISTS system_dirs)
        if(EXISTS "${dir}/${entry}")
          file(CREATE_LINK "${dir}/${entry}" "${shim}/${entry}" SYMBOLIC)
          list(APPEND shadowed "${entry}")
          break()
        endif()
      endforeach()
    endforeach()
    if(shadowed)
      list(JOIN shadowed " " shadowed_text)
      message(STATUS "Torch: system headers ahead of ${torch_include}: ${shadowed_text}")
      list(PREPEND includes "${shim}")
    endif()
    list(PREPEND libs "-Wl,--push-state,--no-as-needed,-lstdc++,--pop-state")
  endif()

  set(TORCH_LIBRARIES "${libs}" PARENT_SCOPE)
  set(TORCH_INCLUDE_DIRS "${includes}" PARENT_SCOPE)
endfunction()
