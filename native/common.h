// Shared state of the addon: one oneDNN engine and stream, a per-shape cache
// of primitives, and a scratch arena reused by every call so the hot path
// allocates nothing.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include "opcodes.h"

namespace ck {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dnnl::engine& eng();
dnnl::stream& strm();

// Scratch slots: each grows to the largest size asked for and is kept.
enum Slot { kSrc = 0, kWei, kDst, kPad, kWs, kAux, kSlots };
void* scratch(Slot slot, size_t bytes);

// Key built from the integer parameters of a call.
inline std::string key_of(int kind, const int32_t* p, size_t n, float alpha = 0.f) {
  std::string k(sizeof(int) + n * sizeof(int32_t) + sizeof(float), '\0');
  std::memcpy(&k[0], &kind, sizeof(int));
  std::memcpy(&k[sizeof(int)], p, n * sizeof(int32_t));
  std::memcpy(&k[sizeof(int) + n * sizeof(int32_t)], &alpha, sizeof(float));
  return k;
}

// A memory in the primitive's preferred layout, fed from / drained to the
// caller's plain layout through a cached reorder when the two differ.
struct Port {
  memory::desc user, prim;
  bool reorder = false;
  dnnl::reorder to_prim, to_user;
  void init(const memory::desc& u, const memory::desc& p, bool input) {
    user = u;
    prim = p;
    reorder = !(u == p);
    if (reorder) {
      if (input)
        to_prim = dnnl::reorder(dnnl::reorder::primitive_desc(eng(), u, eng(), p));
      else
        to_user = dnnl::reorder(dnnl::reorder::primitive_desc(eng(), p, eng(), u));
    }
  }
  // Memory the primitive reads: the caller's buffer or a reordered copy.
  memory in(void* ptr, Slot slot) {
    memory um(user, eng(), ptr);
    if (!reorder) return um;
    memory pm(prim, eng(), scratch(slot, prim.get_size()));
    to_prim.execute(strm(), um, pm);
    return pm;
  }
  // Memory the primitive writes; call out_done after executing.
  memory out(void* ptr, Slot slot) {
    if (!reorder) return memory(user, eng(), ptr);
    return memory(prim, eng(), scratch(slot, prim.get_size()));
  }
  void out_done(memory pm, void* ptr) {
    if (!reorder) return;
    memory um(user, eng(), ptr);
    to_user.execute(strm(), pm, um);
  }
};

// Threads for a primitive: tiny problems run on one thread, since waking
// the others (and waiting for them on a busy machine) costs more than the work.
int threads_for(double work);
void set_default_threads(int n);
int default_threads();
// Scopes nest: each restores the count that was in force before it.
struct ThreadScope {
  explicit ThreadScope(int n);
  ~ThreadScope();
  int saved;
};

// Denormal floats (which gradients of saturated units produce) are 10–100×
// slower on x86; TensorFlow flushes them to zero, and so does the addon.
// OpenMP's worker threads keep flush-to-zero on for good (flush_workers);
// the calling JS thread has it only while a kernel runs, since V8's own
// arithmetic must keep IEEE denormals.
struct FlushDenormals {
  FlushDenormals();
  ~FlushDenormals();
  unsigned saved;
};
void flush_workers();

// Best vector ISA oneDNN will use here: "avx512_core", "avx2", "avx" or "sse41".
const char* cpu_isa_name();

dnnl::primitive_attr base_attr();
dnnl::post_ops act_post_ops(Activation act, float alpha);
memory scratchpad(const memory::desc& d);

}  // namespace ck
