/**
 * Runtime metadata V14, generated from type descriptions: a portable type registry (lookup) built
 * from {@link Type} values, and the SCALE encoding of the metadata itself, described with the same
 * codec. Spec: https://docs.substrate.io/build/application-development/#metadata-system and
 * scale-info's `PortableRegistry` / frame-metadata's `RuntimeMetadataV14`.
 */
import type { Hasher } from "./hashing.js";
import { encode, type Field, ScaleError, type Type, type TypeParam, t } from "./scale.js";

const cu32 = t.compact(t.u32);
const DOCS = t.vec(t.str);

const SI_FIELD = t.struct([], { name: t.option(t.str), type: cu32, typeName: t.option(t.str), docs: DOCS });
const SI_VARIANT = t.struct([], { name: t.str, fields: t.vec(SI_FIELD), index: t.u8, docs: DOCS });
const SI_PRIMITIVE = t.enum([], {
  Bool: [],
  Char: [],
  Str: [],
  U8: [],
  U16: [],
  U32: [],
  U64: [],
  U128: [],
  U256: [],
  I8: [],
  I16: [],
  I32: [],
  I64: [],
  I128: [],
  I256: [],
});
const SI_TYPE_DEF = t.enum([], {
  Composite: { fields: t.vec(SI_FIELD) },
  Variant: { variants: t.vec(SI_VARIANT) },
  Sequence: { type: cu32 },
  Array: { len: t.u32, type: cu32 },
  Tuple: [t.vec(cu32)],
  Primitive: [SI_PRIMITIVE],
  Compact: { type: cu32 },
  BitSequence: { store: cu32, order: cu32 },
});
const SI_TYPE = t.struct([], {
  path: t.vec(t.str),
  params: t.vec(t.struct([], { name: t.str, type: t.option(cu32) })),
  def: SI_TYPE_DEF,
  docs: DOCS,
});
const PORTABLE_TYPE = t.struct([], { id: cu32, type: SI_TYPE });

const HASHER = t.enum([], {
  Blake2_128: [],
  Blake2_256: [],
  Blake2_128Concat: [],
  Twox128: [],
  Twox256: [],
  Twox64Concat: [],
  Identity: [],
});
const STORAGE_ENTRY = t.struct([], {
  name: t.str,
  modifier: t.enum([], { Optional: [], Default: [] }),
  type: t.enum([], { Plain: [cu32], Map: { hashers: t.vec(HASHER), key: cu32, value: cu32 } }),
  fallback: t.vec(t.u8),
  docs: DOCS,
});
const PALLET = t.struct([], {
  name: t.str,
  storage: t.option(t.struct([], { prefix: t.str, items: t.vec(STORAGE_ENTRY) })),
  calls: t.option(cu32),
  events: t.option(cu32),
  constants: t.vec(t.struct([], { name: t.str, type: cu32, value: t.vec(t.u8), docs: DOCS })),
  errors: t.option(cu32),
  index: t.u8,
});
const METADATA_V14 = t.struct([], {
  magic: t.u32,
  version: t.u8,
  lookup: t.vec(PORTABLE_TYPE),
  pallets: t.vec(PALLET),
  extrinsic: t.struct([], {
    type: cu32,
    version: t.u8,
    signedExtensions: t.vec(t.struct([], { identifier: t.str, type: cu32, additionalSigned: cu32 })),
  }),
  type: cu32,
});

const PALLET_V15 = t.struct([], {
  name: t.str,
  storage: t.option(t.struct([], { prefix: t.str, items: t.vec(STORAGE_ENTRY) })),
  calls: t.option(cu32),
  events: t.option(cu32),
  constants: t.vec(t.struct([], { name: t.str, type: cu32, value: t.vec(t.u8), docs: DOCS })),
  errors: t.option(cu32),
  index: t.u8,
  docs: DOCS,
});
const RUNTIME_API_V15 = t.struct([], {
  name: t.str,
  methods: t.vec(
    t.struct([], {
      name: t.str,
      inputs: t.vec(t.struct([], { name: t.str, type: cu32 })),
      output: cu32,
      docs: DOCS,
    }),
  ),
  docs: DOCS,
});
/** frame-metadata's `RuntimeMetadataV15`. */
const METADATA_V15 = t.struct([], {
  magic: t.u32,
  version: t.u8,
  lookup: t.vec(PORTABLE_TYPE),
  pallets: t.vec(PALLET_V15),
  extrinsic: t.struct([], {
    version: t.u8,
    addressType: cu32,
    callType: cu32,
    signatureType: cu32,
    extraType: cu32,
    signedExtensions: t.vec(t.struct([], { identifier: t.str, type: cu32, additionalSigned: cu32 })),
  }),
  type: cu32,
  apis: t.vec(RUNTIME_API_V15),
  outerEnums: t.struct([], { callType: cu32, eventType: cu32, errorType: cu32 }),
  custom: t.vec(t.tuple(t.str, t.struct([], { type: cu32, value: t.vec(t.u8) }))),
});

/** "meta" little-endian. */
const MAGIC = 0x6174656d;

interface PortableField {
  name: string | null;
  type: number;
  typeName: string | null;
  docs: string[];
}

type PortableDef =
  | { tag: "Composite"; value: { fields: PortableField[] } }
  | {
      tag: "Variant";
      value: { variants: Array<{ name: string; fields: PortableField[]; index: number; docs: string[] }> };
    }
  | { tag: "Sequence"; value: { type: number } }
  | { tag: "Array"; value: { len: number; type: number } }
  | { tag: "Tuple"; value: number[] }
  | { tag: "Primitive"; value: { tag: string } }
  | { tag: "Compact"; value: { type: number } };

export interface PortableType {
  id: number;
  type: {
    path: string[];
    params: Array<{ name: string; type: number | null }>;
    def: PortableDef;
    docs: string[];
  };
}

/**
 * Assigns lookup ids to types. Named types (composite/variant with a path) are identified by
 * object identity, so share type constants; anonymous ones are deduplicated by structure.
 */
export class LookupBuilder {
  readonly types: PortableType[] = [];
  readonly #byObject = new Map<Type, number>();
  readonly #byShape = new Map<string, number>();

  constructor(
    private readonly runtimeCall: () => Type,
    private readonly runtimeEvent: () => Type,
  ) {}

  id(type: Type): number {
    const known = this.#byObject.get(type);
    if (known !== undefined) return known;
    let id: number;
    switch (type.kind) {
      case "lazy":
        id = this.id(type.resolve());
        break;
      case "runtimeCall":
        id = this.id(this.runtimeCall());
        break;
      case "runtimeEvent":
        id = this.id(this.runtimeEvent());
        break;
      case "composite":
      case "variant": {
        const generic = type.path.length <= 1;
        if (generic) {
          // Option/Result and path-less types: children first, then deduplicate by shape.
          id = this.#internByShape(type);
        } else {
          id = this.types.length;
          const placeholder: PortableType = {
            id,
            type: { path: [], params: [], def: { tag: "Tuple", value: [] }, docs: [] },
          };
          this.types.push(placeholder);
          this.#byObject.set(type, id);
          placeholder.type = this.#portable(type, id).type;
        }
        break;
      }
      default:
        id = this.#internByShape(type);
    }
    this.#byObject.set(type, id);
    return id;
  }

  /** Registers a type after its children, reusing the id of an identical earlier entry. */
  #internByShape(type: Type): number {
    const entry = this.#portable(type, -1);
    const shape = JSON.stringify(entry.type);
    const same = this.#byShape.get(shape);
    if (same !== undefined) return same;
    const id = this.types.length;
    entry.id = id;
    this.types.push(entry);
    this.#byShape.set(shape, id);
    return id;
  }

  #fields(fields: Field[]): PortableField[] {
    return fields.map((f) => ({
      name: f.name ?? null,
      type: this.id(f.type),
      typeName: f.typeName ?? null,
      docs: f.docs ?? [],
    }));
  }

  #params(params: TypeParam[] | undefined): Array<{ name: string; type: number | null }> {
    return (params ?? []).map((p) => ({ name: p.name, type: p.type ? this.id(p.type) : null }));
  }

  #portable(type: Type, id: number): PortableType {
    const bare = (def: PortableDef): PortableType => ({ id, type: { path: [], params: [], def, docs: [] } });
    switch (type.kind) {
      case "primitive":
        return bare({ tag: "Primitive", value: { tag: type.prim[0]?.toUpperCase() + type.prim.slice(1) } });
      case "compact":
        return bare({ tag: "Compact", value: { type: this.id(type.inner) } });
      case "sequence":
        return bare({ tag: "Sequence", value: { type: this.id(type.inner) } });
      case "array":
        return bare({ tag: "Array", value: { len: type.len, type: this.id(type.inner) } });
      case "tuple":
        return bare({ tag: "Tuple", value: type.items.map((i) => this.id(i)) });
      case "composite":
        return {
          id,
          type: {
            path: type.path,
            params: this.#params(type.params),
            def: { tag: "Composite", value: { fields: this.#fields(type.fields) } },
            docs: type.docs ?? [],
          },
        };
      case "variant":
        return {
          id,
          type: {
            path: type.path,
            params: this.#params(type.params),
            def: {
              tag: "Variant",
              value: {
                variants: type.variants.map((v) => ({
                  name: v.name,
                  fields: this.#fields(v.fields),
                  index: v.index,
                  docs: v.docs ?? [],
                })),
              },
            },
            docs: type.docs ?? [],
          },
        };
      default:
        throw new ScaleError(`no portable form for ${type.kind}`);
    }
  }
}

export interface StorageEntryMeta {
  name: string;
  modifier: "Optional" | "Default";
  /** Plain: the value type; Map: hashers, key type (a tuple for several keys) and value type. */
  type:
    | { tag: "Plain"; value: number }
    | { tag: "Map"; value: { hashers: Hasher[]; key: number; value: number } };
  fallback: Uint8Array;
  docs: string[];
}

export interface PalletMeta {
  name: string;
  storage: { prefix: string; items: StorageEntryMeta[] } | null;
  calls: number | null;
  events: number | null;
  constants: Array<{ name: string; type: number; value: Uint8Array; docs: string[] }>;
  errors: number | null;
  index: number;
}

export interface MetadataV14 {
  lookup: PortableType[];
  pallets: PalletMeta[];
  extrinsic: {
    type: number;
    version: number;
    signedExtensions: Array<{ identifier: string; type: number; additionalSigned: number }>;
  };
  type: number;
}

export interface RuntimeApiMeta {
  name: string;
  methods: Array<{
    name: string;
    inputs: Array<{ name: string; type: number }>;
    output: number;
    docs: string[];
  }>;
  docs: string[];
}

/** V15 adds to V14: pallet docs, the extrinsic's part types, runtime APIs and the outer enums. */
export interface MetadataV15 extends MetadataV14 {
  extrinsicTypes: { address: number; call: number; signature: number; extra: number };
  apis: RuntimeApiMeta[];
  outerEnums: { call: number; event: number; error: number };
}

/** SCALE-encodes metadata V15 including the "meta" magic and version byte. */
export function encodeMetadataV15(meta: MetadataV15): Uint8Array {
  const { extrinsic, extrinsicTypes: x, outerEnums } = meta;
  return encode(METADATA_V15, {
    magic: MAGIC,
    version: 15,
    lookup: meta.lookup,
    pallets: palletsValue(meta.pallets).map((p) => ({ ...p, docs: [] })),
    extrinsic: {
      version: extrinsic.version,
      addressType: x.address,
      callType: x.call,
      signatureType: x.signature,
      extraType: x.extra,
      signedExtensions: extrinsic.signedExtensions,
    },
    type: meta.type,
    apis: meta.apis,
    outerEnums: { callType: outerEnums.call, eventType: outerEnums.event, errorType: outerEnums.error },
    custom: [],
  });
}

function palletsValue(pallets: PalletMeta[]) {
  return pallets.map((p) => ({
    ...p,
    storage: p.storage
      ? {
          prefix: p.storage.prefix,
          items: p.storage.items.map((i) => ({
            ...i,
            modifier: { tag: i.modifier },
            type:
              i.type.tag === "Plain"
                ? i.type
                : {
                    tag: "Map",
                    value: { ...i.type.value, hashers: i.type.value.hashers.map((h) => ({ tag: h })) },
                  },
          })),
        }
      : null,
  }));
}

/** SCALE-encodes metadata V14 including the "meta" magic and version byte. */
export function encodeMetadataV14(meta: MetadataV14): Uint8Array {
  return encode(METADATA_V14, {
    magic: MAGIC,
    version: 14,
    lookup: meta.lookup,
    pallets: palletsValue(meta.pallets),
    extrinsic: meta.extrinsic,
    type: meta.type,
  });
}
