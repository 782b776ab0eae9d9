// Node-API surface of the oneDNN kernels. Every entry point takes the
// caller's Float32Arrays (read and written in place, no copies) and an
// Int32Array of shape parameters; it returns false when oneDNN has no
// implementation for the case, so the caller can use its JS kernel.
#include <napi.h>
#include <omp.h>
#include <malloc.h>
#include <cstdlib>
#include <mutex>
#include <xmmintrin.h>
#include "common.h"
#include "conv.h"
#include "eltwise.h"
#include "matmul.h"
#include "pool.h"
#include "resample.h"
#include "optimizer.h"
#include "bnorm.h"
#include "peak.h"

namespace ck {

dnnl::engine& eng() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
dnnl::stream& strm() {
  static dnnl::stream s(eng());
  return s;
}

void* scratch(Slot slot, size_t bytes) {
  static void* ptr[kSlots] = {};
  static size_t cap[kSlots] = {};
  if (bytes == 0) bytes = 64;
  if (bytes > cap[slot]) {
    std::free(ptr[slot]);
    size_t n = (bytes + 4095) & ~size_t(4095);
    ptr[slot] = std::aligned_alloc(4096, n);
    if (!ptr[slot]) throw std::bad_alloc();
    cap[slot] = n;
  }
  return ptr[slot];
}

// MXCSR bits: FTZ (flush results) and DAZ (read inputs as zero).
constexpr unsigned kFlushBits = 0x8040;
FlushDenormals::FlushDenormals() : saved(_mm_getcsr()) { _mm_setcsr(saved | kFlushBits); }
FlushDenormals::~FlushDenormals() { _mm_setcsr(saved); }
void flush_workers() {
#pragma omp parallel
  {
    if (omp_get_thread_num() != 0) _mm_setcsr(_mm_getcsr() | kFlushBits);
  }
}

static int g_threads = 0;
int default_threads() {
  if (g_threads == 0) g_threads = omp_get_max_threads();
  return g_threads;
}
void set_default_threads(int n) {
  g_threads = n;
  omp_set_num_threads(n);
  flush_workers();  // threads started for the new count
}
// work: multiply-adds for compute kernels, elements touched for the others.
int threads_for(double work) { return work < 4e6 ? 1 : default_threads(); }
ThreadScope::ThreadScope(int n) : saved(omp_get_max_threads()) { omp_set_num_threads(n); }
ThreadScope::~ThreadScope() { omp_set_num_threads(saved); }

const char* cpu_isa_name() {
  // oneDNN reports the ISA cap it allows (DNNL_MAX_CPU_ISA); the hardware may offer less.
  static const char* name = [] {
    const char* isa = "sse41";
    __builtin_cpu_init();
    const unsigned cap = dnnl_get_effective_cpu_isa();
    auto allowed = [cap](unsigned bits) { return (cap & bits) == bits; };
    if (__builtin_cpu_supports("avx") && allowed(dnnl_cpu_isa_avx)) isa = "avx";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && allowed(dnnl_cpu_isa_avx2)) isa = "avx2";
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && allowed(dnnl_cpu_isa_avx512_core))
      isa = "avx512_core";
    return isa;
  }();
  return name;
}

dnnl::primitive_attr base_attr() {
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return a;
}

// alpha: kLeakyRelu's slope.
dnnl::post_ops act_post_ops(Activation act, float alpha) {
  dnnl::post_ops po;
  switch (act) {
    case Activation::kRelu: po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f); break;
    case Activation::kRelu6: po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f); break;
    case Activation::kLeakyRelu: po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f); break;
    case Activation::kSigmoid: po.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f); break;
    case Activation::kElu: po.append_eltwise(1.f, dnnl::algorithm::eltwise_elu, 1.f, 0.f); break;
    default: break;
  }
  return po;
}

memory scratchpad(const memory::desc& d) { return memory(d, eng(), scratch(kPad, d.get_size())); }

}  // namespace ck

namespace {

void* f32(const Napi::Value& v) {
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), "expected a Float32Array");
  auto t = v.As<Napi::TypedArray>();
  if (t.TypedArrayType() != napi_float32_array) throw Napi::TypeError::New(v.Env(), "expected a Float32Array");
  return static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
}

// An op code or kind argument (see opcodes.h).
template <typename Code>
Code code(const Napi::Value& v) {
  return static_cast<Code>(v.As<Napi::Number>().Int32Value());
}

struct Params {
  const int32_t* p;
  size_t n;
};
Params ints(const Napi::Value& v) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(v.Env(), "expected an Int32Array");
  auto t = v.As<Napi::Int32Array>();
  return {t.Data(), t.ElementLength()};
}

// The caches and scratch buffers are process-wide; worker threads that load
// the addon take turns.
std::mutex g_lock;

template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F f) {
  std::lock_guard<std::mutex> hold(g_lock);
  ck::FlushDenormals ftz;
  try {
    return Napi::Boolean::New(info.Env(), f());
  } catch (const dnnl::error& e) {
    // a case oneDNN does not cover (or describes differently): the JS kernel runs instead
    if (e.status == dnnl_unimplemented || e.status == dnnl_invalid_arguments)
      return Napi::Boolean::New(info.Env(), false);
    throw Napi::Error::New(info.Env(), std::string("oneDNN: ") + e.what());
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "native backend: out of memory");
  }
}

// conv(kind, params, alpha, a, b, bias, out)
Napi::Value Conv(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    auto p = ints(info[1]);
    return ck::conv(code<ck::ConvKind>(info[0]), p.p, p.n, info[2].As<Napi::Number>().FloatValue(),
                    f32(info[3]), f32(info[4]), f32(info[5]), f32(info[6]));
  });
}

// pool(kind, params, a, b, out)
Napi::Value Pool(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    auto p = ints(info[1]);
    return ck::pool(code<ck::PoolKind>(info[0]), p.p, p.n, f32(info[2]), f32(info[3]), f32(info[4]));
  });
}

// matmul(params, alpha, a, b, bias, out)
Napi::Value MatMul(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    auto p = ints(info[0]);
    return ck::matmul(p.p, p.n, info[1].As<Napi::Number>().FloatValue(), f32(info[2]), f32(info[3]), f32(info[4]),
                      f32(info[5]));
  });
}

size_t f32_len(const Napi::Value& v) { return v.As<Napi::TypedArray>().ElementLength(); }

// unary(op, x, out, alpha)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  ck::FlushDenormals ftz;
  auto x = f32(info[1]), y = f32(info[2]);
  if (!x || !y || f32_len(info[1]) != f32_len(info[2])) throw Napi::TypeError::New(info.Env(), "unary: bad arrays");
  ck::unary(code<ck::UnaryOp>(info[0]), static_cast<float*>(x), static_cast<float*>(y), f32_len(info[1]),
            info[3].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

// binary(op, a, b, out): b has the size of a, or divides it (trailing broadcast), or is 1.
Napi::Value Binary(const Napi::CallbackInfo& info) {
  ck::FlushDenormals ftz;
  auto a = f32(info[1]), b = f32(info[2]), o = f32(info[3]);
  if (!a || !b || !o) throw Napi::TypeError::New(info.Env(), "binary: bad arrays");
  const size_t na = f32_len(info[1]), nb = f32_len(info[2]), n = f32_len(info[3]);
  if ((na != n && nb != n) || na == 0 || nb == 0 || n % na || n % nb)
    throw Napi::RangeError::New(info.Env(), "binary: sizes do not broadcast");
  ck::binary(code<ck::BinaryOp>(info[0]), static_cast<float*>(a), na, static_cast<float*>(b), nb,
             static_cast<float*>(o), n);
  return info.Env().Undefined();
}

// optimizerStep(kind, [v, a, b, g], [vOut, aOut, bOut], scalars): kRMSProp [lr, rho, 1−rho, momentum, eps],
// kAdam [−lr, b1, 1−b1, b2, 1−b2, 1−b1^t, 1−b2^t, eps]; see optimizer.h.
Napi::Value OptimizerStep(const Napi::CallbackInfo& info) {
  ck::FlushDenormals ftz;
  const bool rmsprop = code<ck::OptimizerKind>(info[0]) == ck::OptimizerKind::kRMSProp;
  auto ins = info[1].As<Napi::Array>(), outs = info[2].As<Napi::Array>();
  auto k = info[3].As<Napi::Float32Array>();
  if (ins.Length() != 4 || outs.Length() != 3 || k.ElementLength() != (rmsprop ? 5u : 8u))
    throw Napi::TypeError::New(info.Env(), "optimizerStep: bad arguments");
  float* p[7];
  const size_t n = f32_len(ins.Get(0u));
  for (uint32_t i = 0; i < 4; ++i) {
    p[i] = static_cast<float*>(f32(ins.Get(i)));
    if (!p[i] || f32_len(ins.Get(i)) != n) throw Napi::RangeError::New(info.Env(), "optimizerStep: arrays of different sizes");
  }
  for (uint32_t i = 0; i < 3; ++i) {
    p[4 + i] = static_cast<float*>(f32(outs.Get(i)));
    if (!p[4 + i] || f32_len(outs.Get(i)) != n) throw Napi::RangeError::New(info.Env(), "optimizerStep: arrays of different sizes");
  }
  const float* c = k.Data();
  if (rmsprop)
    ck::rmsprop_step(p[0], p[1], p[2], p[3], p[4], p[5], p[6], n, c[0], c[1], c[2], c[3], c[4]);
  else
    ck::adam_step(p[0], p[1], p[2], p[3], p[4], p[5], p[6], n, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
  return info.Env().Undefined();
}

// binaryMid(op, big, small, out, outer, mid, inner, smallFirst): small [outer, 1, inner] repeated along big's middle axis.
Napi::Value BinaryMid(const Napi::CallbackInfo& info) {
  ck::FlushDenormals ftz;
  auto g = f32(info[1]), sm = f32(info[2]), o = f32(info[3]);
  const int64_t outer = info[4].As<Napi::Number>().Int64Value(), mid = info[5].As<Napi::Number>().Int64Value(),
                inner = info[6].As<Napi::Number>().Int64Value();
  if (!g || !sm || !o || outer < 1 || mid < 1 || inner < 1 || f32_len(info[1]) != size_t(outer * mid * inner) ||
      f32_len(info[3]) != size_t(outer * mid * inner) || f32_len(info[2]) != size_t(outer * inner))
    throw Napi::RangeError::New(info.Env(), "binaryMid: sizes do not match");
  ck::binary_mid(code<ck::BinaryOp>(info[0]), static_cast<float*>(g), static_cast<float*>(sm),
                 static_cast<float*>(o), outer, mid, inner, info[7].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}

// sum(x, out, outer, mid, inner, scale): x as [outer, mid, inner] summed over mid, times scale.
Napi::Value Sum(const Napi::CallbackInfo& info) {
  ck::FlushDenormals ftz;
  auto x = f32(info[0]), o = f32(info[1]);
  const int64_t outer = info[2].As<Napi::Number>().Int64Value(), mid = info[3].As<Napi::Number>().Int64Value(),
                inner = info[4].As<Napi::Number>().Int64Value();
  if (!x || !o || outer < 1 || mid < 1 || inner < 1 || f32_len(info[0]) != size_t(outer * mid * inner) ||
      f32_len(info[1]) != size_t(outer * inner))
    throw Napi::TypeError::New(info.Env(), "sum: bad arrays");
  ck::sum(static_cast<float*>(x), static_cast<float*>(o), outer, mid, inner, info[5].As<Napi::Number>().FloatValue());
  return info.Env().Undefined();
}

// batchNorm(kind, rows, channels, eps, inputs, outputs): see bnorm.h for each kind's arrays (null: an absent
// offset or scale of kInference).
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  ck::FlushDenormals ftz;
  auto env = info.Env();
  const auto kind = code<ck::BatchNormKind>(info[0]);
  const int64_t rows = info[1].As<Napi::Number>().Int64Value(), C = info[2].As<Napi::Number>().Int64Value();
  const double eps = info[3].As<Napi::Number>().DoubleValue();
  if (!info[4].IsArray() || !info[5].IsArray()) throw Napi::TypeError::New(env, "batchNorm: bad arguments");
  auto ins = info[4].As<Napi::Array>(), outs = info[5].As<Napi::Array>();
  const bool inference = kind == ck::BatchNormKind::kInference;
  const bool forward = kind == ck::BatchNormKind::kTrainForward || kind == ck::BatchNormKind::kTrainForwardRelu;
  const bool backward = kind == ck::BatchNormKind::kTrainBackward || kind == ck::BatchNormKind::kTrainBackwardRelu;
  if (!inference && !forward && !backward) throw Napi::RangeError::New(env, "batchNorm: unknown kind");
  const uint32_t n_in = inference ? 5 : forward ? 3 : kind == ck::BatchNormKind::kTrainBackwardRelu ? 6 : 5;
  const uint32_t n_out = inference ? 1 : 3;
  // How many inputs are whole activations ([rows, C]); the rest are per-channel.
  const uint32_t n_full = backward ? 2 : 1;
  if (rows < 1 || C < 1 || ins.Length() != n_in || outs.Length() != n_out)
    throw Napi::RangeError::New(env, "batchNorm: bad sizes");
  const float* in[6] = {};
  int64_t lens[6] = {};
  for (uint32_t i = 0; i < n_in; ++i) {
    Napi::Value v = ins.Get(i);
    in[i] = static_cast<const float*>(f32(v));
    lens[i] = in[i] ? int64_t(f32_len(v)) : 0;
    const bool optional = inference && i >= 3;
    const bool ok = i < n_full ? lens[i] == rows * C
                               : (in[i] ? lens[i] == C || (inference && lens[i] == 1) : optional);
    if (!ok) throw Napi::RangeError::New(env, "batchNorm: input " + std::to_string(i) + " has the wrong size");
  }
  float* out[3] = {};
  for (uint32_t i = 0; i < n_out; ++i) {
    Napi::Value v = outs.Get(i);
    out[i] = static_cast<float*>(f32(v));
    if (!out[i] || int64_t(f32_len(v)) != (i == 0 ? rows * C : C))
      throw Napi::RangeError::New(env, "batchNorm: output " + std::to_string(i) + " has the wrong size");
  }
  std::lock_guard<std::mutex> hold(g_lock);
  ck::batch_norm(kind, rows, C, eps, in, lens, out);
  return env.Undefined();
}

// calibrate(threads, seconds, trials): the measured FMA peak and core clock (see peak.h).
Napi::Value Calibrate(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const int threads = info[0].As<Napi::Number>().Int32Value();
  const double seconds = info[1].As<Napi::Number>().DoubleValue();
  const int trials = info[2].As<Napi::Number>().Int32Value();
  if (threads < 1 || threads > 1024 || !(seconds > 0 && seconds <= 10) || trials < 1 || trials > 100)
    throw Napi::RangeError::New(env, "calibrate: threads 1–1024, seconds in (0, 10], trials 1–100");
  std::lock_guard<std::mutex> hold(g_lock);
  const ck::FmaPeak fma = ck::fma_gflops(threads, seconds, trials);
  const double ghz = ck::clock_ghz(threads, seconds, trials);
  auto o = Napi::Object::New(env);
  o.Set("gflops", fma.gflops);
  o.Set("isa", fma.isa);
  o.Set("flopsPerInstruction", fma.flops_per_instruction);
  o.Set("ghz", ghz);
  return o;
}

// resample(params [n, h, w, c, fill, order], matrices, cval, src, out)
Napi::Value Resample(const Napi::CallbackInfo& info) {
  ck::FlushDenormals ftz;
  auto p = ints(info[0]);
  auto x = f32(info[3]), y = f32(info[4]);
  // Matrices in double, as the JS reference computes: a float32 matrix moves
  // nearest-neighbour taps that sit near a half pixel.
  if (p.n != 6 || !x || !y || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(info.Env(), "resample: bad arguments");
  auto mats = info[1].As<Napi::Float64Array>();
  const int n = p.p[0], h = p.p[1], w = p.p[2], c = p.p[3];
  const size_t size = size_t(n) * h * w * c;
  if (n < 1 || h < 1 || w < 1 || c < 1 || f32_len(info[3]) != size || f32_len(info[4]) != size ||
      mats.ElementLength() != size_t(n) * 8 || p.p[4] < int(ck::ResampleFill::kConstant) ||
      p.p[4] > int(ck::ResampleFill::kWrap) || p.p[5] < int(ck::ResampleOrder::kNearest) ||
      p.p[5] > int(ck::ResampleOrder::kBilinear))
    throw Napi::RangeError::New(info.Env(), "resample: sizes or modes out of range");
  ck::resample_affine(static_cast<float*>(x), n, h, w, c, mats.Data(), static_cast<ck::ResampleFill>(p.p[4]),
                      info[2].As<Napi::Number>().FloatValue(), static_cast<ck::ResampleOrder>(p.p[5]),
                      static_cast<float*>(y));
  return info.Env().Undefined();
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto o = Napi::Object::New(env);
  auto v = dnnl_version();
  o.Set("onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  const char* isa = ck::cpu_isa_name();
  o.Set("isa", isa);
  o.Set("threads", ck::default_threads());
  o.Set("cached", (double)ck::conv_cache_size());
  o.Set("convImpl", ck::conv_impl_name());
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n > 0) ck::set_default_threads(n);
  return Napi::Number::New(info.Env(), ck::default_threads());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Tensors are large, short-lived typed arrays. Serving them from the heap
  // instead of fresh mmaps saves a page fault per 4 KiB on every kernel
  // output; memory freed by a step is reused by the next one.
  if (!std::getenv("CONVKIT_NATIVE_KEEP_MALLOC")) {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
  ck::flush_workers();
  exports.Set("conv", Napi::Function::New(env, Conv));
  exports.Set("pool", Napi::Function::New(env, Pool));
  exports.Set("matmul", Napi::Function::New(env, MatMul));
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("sum", Napi::Function::New(env, Sum));
  exports.Set("binaryMid", Napi::Function::New(env, BinaryMid));
  exports.Set("optimizerStep", Napi::Function::New(env, OptimizerStep));
  exports.Set("resample", Napi::Function::New(env, Resample));
  exports.Set("batchNorm", Napi::Function::New(env, BatchNorm));
  exports.Set("calibrate", Napi::Function::New(env, Calibrate));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  return exports;
}

}  // namespace

NODE_API_MODULE(convkit_native, Init)
