// Lathe's version: CMake's PROJECT_VERSION (the top CMakeLists.txt), compiled into one generated file
// (core/util/version.cpp.in) so changing it rebuilds one file, not every file that prints it.
#pragma once

namespace lathe {

const char* version();

}  // namespace lathe
