// A stand-in for libcuda.so.1 used by the gpu module's tests on machines without an NVIDIA driver. It exports
// every entry point CudaDriver binds. Device memory is host memory (so copies really move data and the tests can
// check the host-side bookkeeping); kernel launches only record the kernel name. Compile-time switches select
// failure modes: -DFAKE_INIT_RESULT=100 (cuInit fails with CUDA_ERROR_NO_DEVICE), -DFAKE_DEVICE_COUNT=0,
// -DFAKE_CC_MAJOR=7 -DFAKE_CC_MINOR=5 (a device older than the PTX's sm_80; default 9.0, a Hopper).
// Module loading accepts only text that looks like PTX (has ".version"), else CUDA_ERROR_INVALID_PTX with a JIT log,
// and function lookup succeeds only for names that are an ".entry" of the loaded text. With -DFAKE_EMULATE (built
// with g++ together with cuda_emulator.cpp) launches really run the kernels on the CPU.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#ifndef FAKE_INIT_RESULT
#define FAKE_INIT_RESULT 0
#endif
#ifndef FAKE_DEVICE_COUNT
#define FAKE_DEVICE_COUNT 1
#endif
#ifndef FAKE_CC_MAJOR
#define FAKE_CC_MAJOR 9
#endif
#ifndef FAKE_CC_MINOR
#define FAKE_CC_MINOR 0
#endif

#ifdef __cplusplus
extern "C" {
#endif
#ifdef FAKE_EMULATE
int fake_emulate_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned shared,
                        void** params);
#endif

typedef int CUresult;
static char launch_log[1 << 16];
int fake_launch_count = 0;
long fake_live_allocations = 0;

const char* fake_launch_log(void) { return launch_log; }
void fake_reset(void) { launch_log[0] = 0; fake_launch_count = 0; }

CUresult cuInit(unsigned flags) { (void)flags; return FAKE_INIT_RESULT; }

CUresult cuGetErrorName(CUresult code, const char** name) {
    switch (code) {
        case 0: *name = "CUDA_SUCCESS"; return 0;
        case 100: *name = "CUDA_ERROR_NO_DEVICE"; return 0;
        case 218: *name = "CUDA_ERROR_INVALID_PTX"; return 0;
        case 500: *name = "CUDA_ERROR_NOT_FOUND"; return 0;
        default: *name = NULL; return 1; // CUDA_ERROR_INVALID_VALUE: unknown code
    }
}

CUresult cuDeviceGetCount(int* count) { *count = FAKE_DEVICE_COUNT; return 0; }
CUresult cuDeviceGet(int* device, int ordinal) { *device = ordinal; return ordinal < FAKE_DEVICE_COUNT ? 0 : 101; }
CUresult cuDeviceGetName(char* name, int len, int device) { (void)device; snprintf(name, len, "Fake GPU"); return 0; }
CUresult cuDeviceGetAttribute(int* value, int attribute, int device) {
    (void)device;
    switch (attribute) {
        case 75: *value = FAKE_CC_MAJOR; return 0; // compute capability major
        case 76: *value = FAKE_CC_MINOR; return 0; // minor
        case 16: *value = 132; return 0;       // multiprocessors
        case 97: *value = 232448; return 0;    // shared memory per block, opt-in
        default: *value = 0; return 0;
    }
}
static int context_token;
CUresult cuDevicePrimaryCtxRetain(void** ctx, int device) { (void)device; *ctx = &context_token; return 0; }
CUresult cuDevicePrimaryCtxRelease_v2(int device) { (void)device; return 0; }
CUresult cuCtxSetCurrent(void* ctx) { return ctx == &context_token ? 0 : 201; } // CUDA_ERROR_INVALID_CONTEXT
CUresult cuCtxSynchronize(void) { return 0; }

CUresult cuModuleLoadDataEx(void** module, const void* image, unsigned n, int* options, void** values) {
    const char* text = (const char*)image;
    if (strstr(text, ".version") == NULL) {
        for (unsigned i = 0; i < n; i++) {
            if (options[i] == 5) strcpy((char*)values[i], "ptxas fatal   : Unexpected non-PTX input");
        }
        return 218;
    }
    *module = strdup(text);
    return 0;
}
CUresult cuModuleUnload(void* module) { free(module); return 0; }
CUresult cuModuleGetFunction(void** function, void* module, const char* name) {
    char pattern[256];
    snprintf(pattern, sizeof pattern, ".entry %s(", name);
    if (strstr((const char*)module, pattern) == NULL) return 500;
    *function = strdup(name);
    return 0;
}
CUresult cuFuncSetAttribute(void* function, int attribute, int value) {
    (void)function;
    return attribute == 8 && value <= 232448 ? 0 : 1;
}
CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void* stream, void** params, void** extra) {
    (void)stream; (void)extra;
    if (params == NULL || gx == 0 || gy == 0 || gz == 0 || bx * by * bz == 0 || bx * by * bz > 1024) return 1;
    if (shared > 232448) return 1;
#ifdef FAKE_EMULATE
    if (by != 1 || bz != 1) return 1;
    CUresult emulated = fake_emulate_launch((const char*)f, gx, gy, gz, bx, shared, params);
    if (emulated != 0) return emulated;
#endif
    size_t used = strlen(launch_log);
    snprintf(launch_log + used, sizeof launch_log - used, "%s%s", used ? "," : "", (const char*)f);
    fake_launch_count++;
    return 0;
}

CUresult cuMemAlloc_v2(uint64_t* ptr, size_t bytes) {
    void* p = calloc(1, bytes);
    if (p == NULL) return 2;
    fake_live_allocations++;
    *ptr = (uint64_t)(uintptr_t)p;
    return 0;
}
CUresult cuMemFree_v2(uint64_t ptr) { free((void*)(uintptr_t)ptr); fake_live_allocations--; return 0; }
CUresult cuMemsetD32Async(uint64_t ptr, unsigned value, size_t count, void* stream) {
    (void)stream;
    unsigned* p = (unsigned*)(uintptr_t)ptr;
    for (size_t i = 0; i < count; i++) p[i] = value;
    return 0;
}
CUresult cuMemcpyHtoDAsync_v2(uint64_t dst, const void* src, size_t bytes, void* stream) {
    (void)stream; memcpy((void*)(uintptr_t)dst, src, bytes); return 0;
}
CUresult cuMemcpyDtoHAsync_v2(void* dst, uint64_t src, size_t bytes, void* stream) {
    (void)stream; memcpy(dst, (const void*)(uintptr_t)src, bytes); return 0;
}
CUresult cuMemcpyDtoDAsync_v2(uint64_t dst, uint64_t src, size_t bytes, void* stream) {
    (void)stream; memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, bytes); return 0;
}

static int stream_token, event_token;
CUresult cuStreamCreate(void** stream, unsigned flags) { (void)flags; *stream = &stream_token; return 0; }
CUresult cuStreamSynchronize(void* stream) { (void)stream; return 0; }
CUresult cuStreamDestroy_v2(void* stream) { (void)stream; return 0; }
CUresult cuEventCreate(void** event, unsigned flags) { (void)flags; *event = &event_token; return 0; }
CUresult cuEventRecord(void* event, void* stream) { (void)event; (void)stream; return 0; }
CUresult cuEventSynchronize(void* event) { (void)event; return 0; }
// Only the pre-12.8 name, so the binding's fallback to it is exercised.
CUresult cuEventElapsedTime(float* ms, void* start, void* end) { (void)start; (void)end; *ms = 1.5f; return 0; }
CUresult cuEventDestroy_v2(void* event) { (void)event; return 0; }
#ifdef __cplusplus
}
#endif
