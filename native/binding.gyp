{
  "target_defaults": {
    "sources": ["src/addon.cc", "src/loader.c", "src/flow_ids.c", "src/links.c", "src/neighbours.c"],
    "include_dirs": [
      "<!(node -p \"require('node-addon-api').include_dir\")",
      "../build/bpf"
    ],
    "libraries": ["<!@(pkg-config --libs libbpf)"],
    "cflags": ["-Wall", "-Wno-missing-field-initializers"],
    "cflags_c": ["-std=gnu11"],
    "cflags_cc": ["-std=c++17", "-fexceptions"],
    "cflags_cc!": ["-fno-exceptions"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"]
  },
  "targets": [
    { "target_name": "flowlens" },
    {
      "target_name": "flowlens_bench",
      "defines": ["FLOWLENS_BENCH"]
    }
  ]
}
