{
  "targets": [
    {
      "target_name": "merkle",
      "sources": ["src/merkle.c"],
      # Node-API only (no V8 or libuv headers): one build serves every Node.js version.
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O2", "-std=c11"] }
    }
  ]
}
