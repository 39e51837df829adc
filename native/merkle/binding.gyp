{
  "targets": [
    {
      "target_name": "merkle",
      "sources": ["src/merkle.c"],
      # Node-API only (no V8 or libuv headers): one build serves every Node.js version.
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra"],
      # OpenSSL's symbols come from the node binary at load time. Bind them all when the addon is
      # loaded, so a Node.js without them fails the require (and the JavaScript builder is used)
      # instead of aborting the process at the first hash.
      "ldflags": ["-Wl,-z,now"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O2", "-std=c11"] }
    }
  ]
}
