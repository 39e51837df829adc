// The compiled addon (binding.gyp; built by `npm install`). protocol/merkle-native.ts loads this
// package when it is there and checks its answers before using it.
module.exports = require("./build/Release/merkle.node");
