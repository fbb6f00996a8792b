/**
 * Generates the C++ header of the co-simulation protocol from protocol.ts, with a
 * compile-time size check for every fixed part (SimBricks keeps those by hand; here
 * they are derived, so none can be forgotten).
 */
import {
  FIELD_SIZE,
  fieldsSize,
  HEADER_FIELDS,
  MESSAGES,
  PROTOCOL_MAGIC,
  PROTOCOL_VERSION,
  STREAM_RECORD_FIELDS,
  type FieldDef,
} from "./protocol.ts";

const CPP_TYPE: Record<FieldDef["type"], string> = { u16: "uint16_t", u32: "uint32_t", u64: "uint64_t", hash32: "uint8_t" };

function structOf(name: string, fields: readonly FieldDef[]): string {
  const size = fieldsSize(fields);
  const lines = fields.map((f) => `  ${CPP_TYPE[f.type]} ${f.name}${f.type === "hash32" ? "[32]" : ""}; // ${f.doc}`);
  return [
    `struct ${name} {`,
    ...lines,
    `};`,
    `static_assert(sizeof(${name}) == ${size}, "${name} must be ${size} bytes, as in cosim/protocol.ts");`,
  ].join("\n");
}

export function generateProtocolHeader(): string {
  const out: string[] = [];
  out.push(`// Generated from cosim/protocol.ts by cosim/protocol-cpp.ts. Do not edit.`);
  out.push(`#pragma once`, `#include <cstdint>`, `#include <cstddef>`, ``);
  out.push(`#define HCASIM_PROTOCOL_VERSION ${PROTOCOL_VERSION}u`);
  out.push(`#define HCASIM_PROTOCOL_MAGIC 0x${PROTOCOL_MAGIC.toString(16)}u`, ``);
  out.push(`namespace hcasim {`, ``);
  out.push(`enum MsgType : uint16_t {`);
  for (const m of MESSAGES) out.push(`  ${m.name} = 0x${m.type.toString(16).padStart(2, "0")}, // ${m.doc}`);
  out.push(`};`, ``);
  out.push(`inline const char* msg_name(uint16_t type) {`, `  switch (type) {`);
  for (const m of MESSAGES) out.push(`    case ${m.name}: return "${m.name}";`);
  out.push(`    default: return "unknown";`, `  }`, `}`, ``);
  out.push(`#pragma pack(push, 1)`);
  out.push(structOf("MsgHeader", HEADER_FIELDS), ``);
  out.push(structOf("StreamRecord", STREAM_RECORD_FIELDS), ``);
  for (const m of MESSAGES) {
    const size = fieldsSize(m.fields);
    out.push(`constexpr size_t BODY_SIZE_${m.name} = ${size};`);
    if (m.fields.length > 0) out.push(structOf(`Body_${m.name}`, m.fields));
    out.push(``);
  }
  out.push(`#pragma pack(pop)`, ``, `}  // namespace hcasim`, ``);
  // keep FIELD_SIZE referenced for readers looking for the size table
  void FIELD_SIZE;
  return out.join("\n");
}
