// Precompiled for LibTorch-using targets: ATen's headers cost ~14 s per translation unit otherwise.
// Sources still include the narrow headers they use; this only makes them cheap.
#pragma once
#include <ATen/ATen.h>
