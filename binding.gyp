{
  "targets": [
    {
      "target_name": "convkit_native",
      "sources": [
        "native/addon.cc",
        "native/conv.cc",
        "native/pool.cc",
        "native/matmul.cc",
        "native/eltwise.cc",
        "native/resample.cc",
        "native/optimizer.cc",
        "native/bnorm.cc",
        "native/peak.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-O2"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fopenmp", "-fexceptions", "-frtti"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl", "-lgomp"]
    }
  ]
}
