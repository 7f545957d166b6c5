// Stand-in for CUDA's math_constants.h when the kernels are compiled for the CPU emulator.
#pragma once
#include <cmath>
#define CUDART_INF_F INFINITY
