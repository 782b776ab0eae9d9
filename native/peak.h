#pragma once
#include <cstdint>
namespace ck {
// The arithmetic peak this machine delivers, measured rather than taken from
// the nominal clock (turbo and power limits move it either way):
// fma_gflops: independent vector FMAs of the widest ISA the CPU has
// (AVX-512, AVX2 + FMA, else SSE multiply + add) on `threads` threads at
// once; GFLOPS counting an FMA lane as 2 FLOPs. Each thread times itself and
// keeps its best of `trials` runs of about `seconds`; the peak is the sum.
// On a shared machine the threads are descheduled at different moments, and
// short runs that no other process interrupted show what the cores deliver.
// clock_ghz: the core clock, from a chain of dependent integer adds (one per
// cycle on every x86 core), run the same way; the mean over the threads.
struct FmaPeak {
  double gflops;
  const char* isa;  // "avx512", "avx2" or "sse"
  int flops_per_instruction;
};
FmaPeak fma_gflops(int threads, double seconds, int trials);
double clock_ghz(int threads, double seconds, int trials);
}  // namespace ck
