/*
 * The chunk Merkle tree of protocol/merkle.ts in one call: every level and the sealed root,
 * byte-identical to the JavaScript builder there (see that module's comment for the format).
 *
 *   leaf         H(0x00 || leafBytes)          (the chunk's last leaf may be short)
 *   inner node   H(0x01 || left || right)      (a level's odd last node is promoted unchanged)
 *   sealed root  H(0x03 || u64be(leafCount) || top)
 *
 * Why native: in JavaScript each of a 1 MiB chunk's 2,047 hashes is one node:crypto call, and the
 * ~1.5 µs a call costs outweighs the hashing. Here the hashes go straight to OpenSSL's SHA-256
 * (SHA-NI where the CPU has it), the same library node:crypto uses. Node exports OpenSSL's symbols
 * and ships its headers (include/node/openssl), so the addon links against the copy already in
 * the process. The low-level SHA256_Init/Update/Final are used, not EVP: in OpenSSL 3 every EVP
 * digest context fetches an implementation, which costs about as much as hashing a leaf.
 *
 * Only Node-API (node_api.h) is used, so one build loads on every Node.js version.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <node_api.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#define HASH_LENGTH 32
#define LEAF_TAG 0x00
#define NODE_TAG 0x01
#define CHUNK_SEAL_TAG 0x03
/* The largest integer a JavaScript number holds exactly: leaf sizes above it are not integers. */
#define MAX_SAFE_INTEGER 9007199254740991.0

static const unsigned char leaf_tag = LEAF_TAG;
static const unsigned char node_tag = NODE_TAG;

static void hash_leaf(const uint8_t *bytes, size_t length, uint8_t *out) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, &leaf_tag, 1);
  SHA256_Update(&ctx, bytes, length);
  SHA256_Final(out, &ctx);
}

/* `pair` holds left || right, 64 bytes. */
static void hash_pair(const uint8_t *pair, uint8_t *out) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, &node_tag, 1);
  SHA256_Update(&ctx, pair, 2 * HASH_LENGTH);
  SHA256_Final(out, &ctx);
}

static void hash_node(const uint8_t *left, const uint8_t *right, uint8_t *out) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, &node_tag, 1);
  SHA256_Update(&ctx, left, HASH_LENGTH);
  SHA256_Update(&ctx, right, HASH_LENGTH);
  SHA256_Final(out, &ctx);
}

static void seal(uint64_t leaf_count, const uint8_t *top, uint8_t *out) {
  uint8_t input[1 + 8 + HASH_LENGTH];
  input[0] = CHUNK_SEAL_TAG;
  for (int i = 0; i < 8; i++) input[1 + i] = (uint8_t)(leaf_count >> (56 - 8 * i));
  memcpy(input + 9, top, HASH_LENGTH);
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, input, sizeof input);
  SHA256_Final(out, &ctx);
}

/* The chunk and leaf size of a call, checked. */
typedef struct {
  const uint8_t *data;
  size_t length;
  size_t leaf_size;
  size_t leaf_count;
} chunk_args;

/* Reads (chunk: Uint8Array, leafSize: number); on bad arguments throws and returns 0. */
static int read_args(napi_env env, napi_callback_info info, chunk_args *args) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "could not read the arguments");
    return 0;
  }
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "expected (chunk: Uint8Array, leafSize: number)");
    return 0;
  }
  bool is_typed_array = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, argv[0], &is_typed_array) != napi_ok || !is_typed_array ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "chunk must be a Uint8Array");
    return 0;
  }
  /* A detached buffer reads as empty. */
  if (length == 0 || data == NULL) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "a chunk must hold at least one byte");
    return 0;
  }
  napi_valuetype kind;
  double leaf_size = 0;
  if (napi_typeof(env, argv[1], &kind) != napi_ok || kind != napi_number ||
      napi_get_value_double(env, argv[1], &leaf_size) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "leafSize must be a number");
    return 0;
  }
  /* NaN fails every comparison, so it is refused here too. */
  if (!(leaf_size >= 1 && leaf_size <= MAX_SAFE_INTEGER) || leaf_size != (double)(uint64_t)leaf_size) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "leafSize must be a positive integer");
    return 0;
  }
  uint64_t size = (uint64_t)leaf_size;
  args->data = data;
  args->length = length;
  args->leaf_size = size > length ? length : (size_t)size;
  args->leaf_count = length / args->leaf_size + (length % args->leaf_size != 0);
  return 1;
}

/* Hashes leaf `index` of the chunk into out. */
static void hash_leaf_at(const chunk_args *args, size_t index, uint8_t *out) {
  size_t start = index * args->leaf_size;
  size_t rest = args->length - start;
  hash_leaf(args->data + start, rest < args->leaf_size ? rest : args->leaf_size, out);
}

/*
 * tree(chunk, leafSize) → ArrayBuffer: every level packed, leaves first and the single top node
 * last (what MerkleTree.levels holds, back to back), then the sealed root: (nodes + 1) × 32 bytes,
 * allocated once at its final size.
 */
static napi_value build_tree(napi_env env, napi_callback_info info) {
  chunk_args args;
  if (!read_args(env, info, &args)) return NULL;
  size_t nodes = 0;
  for (size_t count = args.leaf_count;; count = count / 2 + (count & 1)) {
    nodes += count;
    if (count == 1) break;
  }
  /* nodes < 2 × leafCount ≤ 2 × length, so this overflows only past SIZE_MAX / 64 bytes. */
  if (nodes >= SIZE_MAX / HASH_LENGTH - 1) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "the chunk is too large for one tree");
    return NULL;
  }
  napi_value result;
  void *memory = NULL;
  if (napi_create_arraybuffer(env, (nodes + 1) * HASH_LENGTH, &memory, &result) != napi_ok) {
    /* Allocation failed: V8 leaves an exception pending or none; make sure one is. */
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_range_error(env, "ERR_MEMORY_ALLOCATION_FAILED", "cannot allocate the tree");
    return NULL;
  }
  uint8_t *out = memory;
  for (size_t i = 0; i < args.leaf_count; i++) hash_leaf_at(&args, i, out + i * HASH_LENGTH);
  uint8_t *level = out;
  size_t count = args.leaf_count;
  while (count > 1) {
    uint8_t *next = level + count * HASH_LENGTH;
    size_t pairs = count / 2;
    for (size_t i = 0; i < pairs; i++) hash_pair(level + 2 * i * HASH_LENGTH, next + i * HASH_LENGTH);
    if (count & 1) memcpy(next + pairs * HASH_LENGTH, level + (count - 1) * HASH_LENGTH, HASH_LENGTH);
    level = next;
    count = pairs + (count & 1);
  }
  seal(args.leaf_count, level, level + HASH_LENGTH);
  return result;
}

/*
 * root(chunk, leafSize) → ArrayBuffer of the sealed root alone, with no levels kept: leaves go
 * onto a stack of perfect subtrees that merge as they fill (at most one per bit of the leaf
 * count), and what is left folds from the right — the shape odd-node promotion gives.
 */
static napi_value build_root(napi_env env, napi_callback_info info) {
  chunk_args args;
  if (!read_args(env, info, &args)) return NULL;
  uint8_t stack[64][HASH_LENGTH];
  unsigned heights[64];
  size_t depth = 0;
  uint8_t node[HASH_LENGTH];
  for (size_t i = 0; i < args.leaf_count; i++) {
    hash_leaf_at(&args, i, node);
    unsigned height = 0;
    while (depth > 0 && heights[depth - 1] == height) {
      hash_node(stack[depth - 1], node, node);
      depth--;
      height++;
    }
    memcpy(stack[depth], node, HASH_LENGTH);
    heights[depth] = height;
    depth++;
  }
  memcpy(node, stack[depth - 1], HASH_LENGTH);
  for (size_t k = depth - 1; k > 0; k--) hash_node(stack[k - 1], node, node);
  napi_value result;
  void *memory = NULL;
  if (napi_create_arraybuffer(env, HASH_LENGTH, &memory, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_range_error(env, "ERR_MEMORY_ALLOCATION_FAILED", "cannot allocate the root");
    return NULL;
  }
  seal(args.leaf_count, node, memory);
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
      {"tree", NULL, build_tree, NULL, NULL, NULL, napi_enumerable, NULL},
      {"root", NULL, build_root, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, 2, properties) != napi_ok) return NULL;
  return exports;
}
