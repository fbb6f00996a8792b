/**
 * Generates the C++ shim that Verilator links with a block (DESIGN.md §3): drivers for
 * input streams (honouring tready), monitors for output streams (reassembling
 * transactions with their cycle stamps), and the ZeroMQ loop that runs quanta.
 * Nothing here is written per block by hand: everything comes from the resolved manifest.
 */
import type { ResolvedBlock, ResolvedStreamPort } from "./manifest.ts";

/** Bump when the generated C++ changes meaning (part of the build cache key). */
export const SHIM_GENERATOR_VERSION = 5;

function cppUserType(bits: number): string {
  if (bits <= 8) return "uint8_t";
  if (bits <= 16) return "uint16_t";
  if (bits <= 32) return "uint32_t";
  return "uint64_t";
}

function mask(bits: number): string {
  return bits >= 32 ? "0xffffffffull" : `0x${((2 ** bits) - 1).toString(16)}ull`;
}

/** A C identifier for a stream (array elements `x[3]` become `x_e3`). */
function cid(p: ResolvedStreamPort): string {
  return p.array ? `${p.base}_e${p.element}` : p.base;
}

/**
 * How to reach one stream's signals: a plain port owns its signals; an array element
 * owns bit/byte slices of packed vectors (element i at [i*W +: W]).
 */
function access(p: ResolvedStreamPort) {
  const b = `top->${p.base}`;
  const i = p.element;
  const W = p.dataBytes;
  if (!p.array) {
    return {
      setValid: (v: string) => `${b}_tvalid = ${v};`,
      valid: `${b}_tvalid`,
      setReady: (v: string) => `${b}_tready = ${v};`,
      ready: `${b}_tready`,
      setLast: (v: string) => `${b}_tlast = ${v};`,
      last: `${b}_tlast`,
      putData: (src: string, n: string) => `put_bytes(${b}_tdata, ${src}, ${n}, ${W}); put_keep(${b}_tkeep, ${n});`,
      takeData: `take_bytes(${b}_tdata, ${b}_tkeep, ${W}, p.cur);`,
      setUser: (v: string) => `${b}_tuser = (${cppUserType(p.userBits)})(${v});`,
      user: `uint64_t(${b}_tuser)`,
    };
  }
  return {
    setValid: (v: string) => `set_bit(${b}_tvalid, ${i}, ${v});`,
    valid: `get_bit(${b}_tvalid, ${i})`,
    setReady: (v: string) => `set_bit(${b}_tready, ${i}, ${v});`,
    ready: `get_bit(${b}_tready, ${i})`,
    setLast: (v: string) => `set_bit(${b}_tlast, ${i}, ${v});`,
    last: `get_bit(${b}_tlast, ${i})`,
    putData: (src: string, n: string) => `put_bytes_at(${b}_tdata, ${i * W}, ${src}, ${n}, ${W}); set_field(${b}_tkeep, ${i * W}, ${W}, keep_mask(${n}));`,
    takeData: `take_bytes_at(${b}_tdata, ${b}_tkeep, ${i * W}, ${W}, p.cur);`,
    setUser: (v: string) => `set_field(${b}_tuser, ${i * p.userBits}, ${p.userBits}, ${v});`,
    user: `get_field(${b}_tuser, ${i * p.userBits}, ${p.userBits})`,
  };
}

function driverFor(p: ResolvedStreamPort, i: number): string {
  const W = p.dataBytes;
  const n = cid(p);
  const a = access(p);
  let off = 0;
  const pack = p.user.map((f) => {
    const s = `u |= (uint64_t(t.user[${p.user.indexOf(f)}]) & ${mask(f.bits)}) << ${off};`;
    off += f.bits;
    return `    ${s}`;
  });
  return `
// input stream ${p.name}: ${W} bytes/beat, user [${p.user.map((f) => `${f.name}:${f.bits}`).join(", ")}]
static void drive_${n}(InPort& p) {
  if (p.q.empty() || (p.beat_off == 0 && p.q.front().start > g_cycle)) { ${a.setValid("0")} return; }
  const Txn& t = p.q.front();
  size_t left = t.data.size() - p.beat_off;
  size_t nb = left < ${W} ? left : ${W};
  ${W > 0 ? a.putData("t.data.data() + p.beat_off", "nb") : ``}
  ${a.setLast("(left <= " + W + ") ? 1 : 0")}
  ${p.userBits > 0 ? `{
    uint64_t u = 0;
${pack.join("\n")}
    ${a.setUser("u")}
  }` : ``}
  ${a.setValid("1")}
  (void)nb;
}
static inline bool handshake_${n}() { return ${a.valid} && ${a.ready}; }
static inline void advance_${n}(InPort& p) {
  const Txn& t = p.q.front();
  p.beat_off += ${Math.max(W, 1)};
  p.beats++;
  if (p.beat_off >= t.data.size()) { p.q.pop_front(); p.beat_off = 0; }
}
static const int IN_${n} = ${i};
`;
}

function monitorFor(p: ResolvedStreamPort, i: number): string {
  const W = p.dataBytes;
  const n = cid(p);
  const a = access(p);
  let off = 0;
  const unpack = p.user.map((f) => {
    const s = `    rec_user(p, uint32_t((u >> ${off}) & ${mask(f.bits)}));`;
    off += f.bits;
    return s;
  });
  return `
// output stream ${p.name}: ${W} bytes/beat
static inline void sample_${n}(OutPort& p) {
  if (!(${a.valid} && ${a.ready})) return;
  if (!p.in_txn) { p.in_txn = true; p.cur.clear(); p.cur_start = g_cycle; }
  ${W > 0 ? a.takeData : ``}
  p.beats++;
  if (${a.last}) {
    begin_record(p, ${p.user.length});
    ${p.userBits > 0 ? `uint64_t u = ${a.user};\n${unpack.join("\n")}` : ``}
    end_record(p);
  }
}
static inline void set_ready_${n}(uint8_t v) { ${a.setReady("v")} }
static const int OUT_${n} = ${i};
`;
}

export function generateShim(block: ResolvedBlock, opts: { trace: boolean }): string {
  const m = block.manifest;
  const top = `V${m.module}`;
  const ins = block.streams.filter((s) => s.direction === "in");
  const outs = block.streams.filter((s) => s.direction === "out");
  const wiresIn = block.wires.filter((w) => w.direction === "in");
  const wiresOut = block.wires.filter((w) => w.direction === "out");
  for (const w of block.wires) {
    if (w.bits > 64) throw new Error(`block ${m.block}: wire ${w.name} has ${w.bits} bits; the shim supports at most 64`);
  }
  for (const s of block.streams) {
    if (s.userBits > 64) throw new Error(`block ${m.block}: port ${s.name} has ${s.userBits} user bits; the shim supports at most 64`);
  }
  const hashBytes = block.hash.match(/../g)!.map((h) => `0x${h}`).join(", ");
  const rstActive = m.reset.activeLow ? 0 : 1;
  const periodPs = Math.round(1e6 / m.clock.mhz);
  const paramText = Object.entries(block.params).map(([k, v]) => `${k}=${v}`).join(" ");
  const readyFns = outs.map((p) => `    set_ready_${cid(p)}(out_ready(${p.index}));`).join("\n");

  return `// Generated by cosim/shim-gen.ts (v${SHIM_GENERATOR_VERSION}) from ${m.block}/block.yaml. Do not edit.
// Block ${m.block}, module ${m.module}, ${paramText}.
#include "${top}.h"
#include "verilated.h"
${opts.trace ? `#include "verilated_vcd_c.h"` : ``}
#include "hcasim_protocol.h"
#include <zmq.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

using namespace hcasim;

static const uint8_t MANIFEST_HASH[32] = { ${hashBytes} };
static const char* BLOCK = "${m.block}";
static const char* BUILD_INFO = "${m.block} (module ${m.module}${paramText ? ", " + paramText : ""}${opts.trace ? ", traced" : ""})";

struct Txn { uint64_t start; std::vector<uint32_t> user; std::vector<uint8_t> data; };
struct InPort { std::deque<Txn> q; size_t beat_off = 0; uint64_t beats = 0; };
struct OutPort {
  bool in_txn = false; uint64_t cur_start = 0; std::vector<uint8_t> cur;
  std::vector<uint8_t> buf;  // encoded StreamRecords not yet sent
  uint32_t count = 0; uint64_t beats = 0;
};

static VerilatedContext* ctx;
static ${top}* top;
${opts.trace ? "static VerilatedVcdC* tfp = nullptr;" : ""}
static uint64_t g_cycle = 0;
static uint64_t g_sim_ns = 0;
static uint32_t g_ready_percent = 100, g_ready_seed = 0;
static InPort in_ports[${Math.max(ins.length, 1)}];
static OutPort out_ports[${Math.max(outs.length, 1)}];

// ---- signal access: Verilator holds <=64-bit signals in integers, wider ones in VlWide
template <class T> static inline void put_bytes(T& sig, const uint8_t* src, size_t n, size_t) {
  uint64_t v = 0; std::memcpy(&v, src, n); sig = (T)v;
}
template <std::size_t N> static inline void put_bytes(VlWide<N>& sig, const uint8_t* src, size_t n, size_t w) {
  uint8_t* d = reinterpret_cast<uint8_t*>(sig.data());
  std::memcpy(d, src, n);
  if (n < w) std::memset(d + n, 0, N * 4 - n);
}
template <class T> static inline void put_keep(T& sig, size_t n) {
  sig = (T)(n >= 64 ? ~0ull : ((1ull << n) - 1));
}
template <std::size_t N> static inline void put_keep(VlWide<N>& sig, size_t n) {
  for (size_t w = 0; w < N; w++) {
    size_t lo = w * 32;
    sig.data()[w] = n >= lo + 32 ? 0xffffffffu : (n > lo ? ((1u << (n - lo)) - 1) : 0u);
  }
}
static inline bool keep_bit(uint64_t k, size_t i) { return (k >> i) & 1; }
template <std::size_t N> static inline bool keep_bit(const VlWide<N>& k, size_t i) { return (k.data()[i / 32] >> (i % 32)) & 1; }
static inline bool keep_full(uint64_t k, size_t w) { return w >= 64 ? k == ~0ull : k == ((1ull << w) - 1); }
template <std::size_t N> static inline bool keep_full(const VlWide<N>& k, size_t w) {
  for (size_t i = 0; i < w; i++) if (!keep_bit(k, i)) return false; return true;
}
template <class T> static inline const uint8_t* sig_bytes(const T& sig, uint64_t& tmp) { tmp = sig; return reinterpret_cast<const uint8_t*>(&tmp); }
template <std::size_t N> static inline const uint8_t* sig_bytes(const VlWide<N>& sig, uint64_t&) { return reinterpret_cast<const uint8_t*>(sig.data()); }
template <class D, class K> static inline void take_bytes(const D& data, const K& keep, size_t w, std::vector<uint8_t>& out) {
  uint64_t tmp; const uint8_t* b = sig_bytes(data, tmp);
  if (keep_full(keep, w)) { out.insert(out.end(), b, b + w); return; }
  for (size_t i = 0; i < w; i++) if (keep_bit(keep, i)) out.push_back(b[i]);  // AXI: null bytes are dropped
}

// ---- packed arrays: element i of a port owns bits/bytes [i*W +: W] of each signal
template <class T> static inline void set_bit(T& sig, size_t i, uint64_t v) {
  const uint64_t m = uint64_t(1) << i;
  sig = (T)(v ? (uint64_t(sig) | m) : (uint64_t(sig) & ~m));
}
template <std::size_t N> static inline void set_bit(VlWide<N>& sig, size_t i, uint64_t v) {
  uint32_t& w = sig.data()[i / 32]; const uint32_t m = 1u << (i % 32);
  w = v ? (w | m) : (w & ~m);
}
static inline bool get_bit(uint64_t v, size_t i) { return (v >> i) & 1; }
template <std::size_t N> static inline bool get_bit(const VlWide<N>& s, size_t i) { return (s.data()[i / 32] >> (i % 32)) & 1; }
template <class T> static inline void set_field(T& sig, size_t off, size_t bits, uint64_t v) {
  for (size_t b = 0; b < bits; b++) set_bit(sig, off + b, (v >> b) & 1);
}
template <class T> static inline uint64_t get_field(const T& sig, size_t off, size_t bits) {
  uint64_t v = 0;
  for (size_t b = 0; b < bits; b++) v |= uint64_t(get_bit(sig, off + b)) << b;
  return v;
}
static inline uint64_t keep_mask(size_t n) { return n >= 64 ? ~0ull : ((1ull << n) - 1); }
template <class T> static inline void put_bytes_at(T& sig, size_t off, const uint8_t* src, size_t n, size_t w) {
  uint64_t v = sig; uint8_t* b = reinterpret_cast<uint8_t*>(&v);
  std::memcpy(b + off, src, n); std::memset(b + off + n, 0, w - n); sig = (T)v;
}
template <std::size_t N> static inline void put_bytes_at(VlWide<N>& sig, size_t off, const uint8_t* src, size_t n, size_t w) {
  uint8_t* d = reinterpret_cast<uint8_t*>(sig.data()) + off;
  std::memcpy(d, src, n); std::memset(d + n, 0, w - n);
}
template <class D, class K> static inline void take_bytes_at(const D& data, const K& keep, size_t off, size_t w, std::vector<uint8_t>& out) {
  uint64_t tmp; const uint8_t* b = sig_bytes(data, tmp) + off;
  for (size_t i = 0; i < w; i++) if (get_bit(keep, off + i)) out.push_back(b[i]);  // AXI: null bytes are dropped
}

// ---- output records
static void begin_record(OutPort& p, uint32_t user_words) {
  StreamRecord r; r.startCycle = p.cur_start; r.endCycle = g_cycle;
  r.dataBytes = (uint32_t)p.cur.size(); r.userWords = user_words;
  const uint8_t* rb = reinterpret_cast<const uint8_t*>(&r);
  p.buf.insert(p.buf.end(), rb, rb + sizeof r);
}
static inline void rec_user(OutPort& p, uint32_t v) {
  const uint8_t* b = reinterpret_cast<const uint8_t*>(&v); p.buf.insert(p.buf.end(), b, b + 4);
}
static void end_record(OutPort& p) {
  p.buf.insert(p.buf.end(), p.cur.begin(), p.cur.end());
  p.count++; p.in_txn = false;
}

// Output backpressure: a stateless hash of (seed, port, cycle), so a model can predict it.
static inline uint8_t out_ready(uint32_t port) {
  if (g_ready_percent >= 100) return 1;
  uint64_t x = g_cycle * 0x9E3779B97F4A7C15ull ^ (uint64_t(g_ready_seed) << 32) ^ (uint64_t(port) * 0xBF58476D1CE4E5B9ull);
  x ^= x >> 31; x *= 0x94D049BB133111EBull; x ^= x >> 29;
  return (x % 100) < g_ready_percent ? 1 : 0;
}
${ins.map((p) => driverFor(p, p.index)).join("")}
${outs.map((p) => monitorFor(p, p.index)).join("")}

static inline uint64_t now_ns() {
  return (uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

${opts.trace ? `static void dump(uint64_t t) { if (tfp) tfp->dump(t); }` : ""}

static void run_until(uint64_t until) {
  uint64_t t0 = now_ns();
  while (g_cycle < until) {
${ins.map((p) => `    drive_${cid(p)}(in_ports[${p.index}]);`).join("\n")}
${readyFns}
    top->eval();
${opts.trace ? `    dump(g_cycle * ${periodPs});` : ""}
${ins.map((p) => `    const bool hs_${cid(p)} = handshake_${cid(p)}();`).join("\n")}
${outs.map((p) => `    sample_${cid(p)}(out_ports[${p.index}]);`).join("\n")}
    top->${m.clock.port} = 1;
    top->eval();
${opts.trace ? `    dump(g_cycle * ${periodPs} + ${Math.floor(periodPs / 2)});` : ""}
    top->${m.clock.port} = 0;
${ins.map((p) => `    if (hs_${cid(p)}) advance_${cid(p)}(in_ports[${p.index}]);`).join("\n")}
    g_cycle++;
  }
  g_sim_ns += now_ns() - t0;
}

static void do_reset(uint32_t cycles) {
  for (auto& p : in_ports) { p.q.clear(); p.beat_off = 0; p.beats = 0; }
  for (auto& p : out_ports) { p.in_txn = false; p.cur.clear(); p.buf.clear(); p.count = 0; p.beats = 0; }
${ins.map((p) => `  ${access(p).setValid("0")}`).join("\n")}
${outs.map((p) => `  set_ready_${cid(p)}(1);`).join("\n")}
  top->${m.reset.port} = ${rstActive};
  for (uint32_t i = 0; i < cycles; i++) {
    top->${m.clock.port} = 0; top->eval();
    top->${m.clock.port} = 1; top->eval();
  }
  top->${m.clock.port} = 0;
  top->${m.reset.port} = ${1 - rstActive};
  g_cycle = 0; g_sim_ns = 0;
}

// ---- transport
struct Sender {
  void* sock = nullptr;  // null: standalone run, replies are discarded
  uint32_t seq = 0;
  void send(uint16_t type, const void* body, size_t body_len, const void* tail = nullptr, size_t tail_len = 0) {
    std::vector<uint8_t> f(sizeof(MsgHeader) + body_len + tail_len);
    MsgHeader h; h.magic = HCASIM_PROTOCOL_MAGIC; h.version = HCASIM_PROTOCOL_VERSION; h.type = type;
    h.bodyBytes = (uint32_t)(body_len + tail_len); h.seq = seq++;
    std::memcpy(f.data(), &h, sizeof h);
    if (body_len) std::memcpy(f.data() + sizeof h, body, body_len);
    if (tail_len) std::memcpy(f.data() + sizeof h + body_len, tail, tail_len);
    if (sock && zmq_send(sock, f.data(), f.size(), 0) < 0) {
      std::fprintf(stderr, "hcasim shim %s: zmq_send failed: %s\\n", BLOCK, zmq_strerror(zmq_errno()));
      std::exit(4);
    }
  }
  void error(const std::string& text) {
    Body_R2H_ERROR b; b.cycle = g_cycle;
    send(R2H_ERROR, &b, sizeof b, text.data(), text.size());
  }
};
static Sender tx;

static void flush_outputs() {
  for (uint32_t i = 0; i < ${outs.length}; i++) {
    OutPort& p = out_ports[i];
    if (p.count == 0) continue;
    Body_R2H_STREAM_OUTPUT b; b.port = i; b.count = p.count;
    tx.send(R2H_STREAM_OUTPUT, &b, sizeof b, p.buf.data(), p.buf.size());
    p.buf.clear(); p.count = 0;
  }
}

static void send_wires() {
  const uint32_t n = ${wiresOut.length};
  if (n == 0) return;
  uint64_t v[${Math.max(wiresOut.length, 1)}];
${wiresOut.map((w, k) => `  v[${k}] = (uint64_t)top->${w.name};`).join("\n")}
  Body_R2H_WIRES b; b.cycle = g_cycle; b.count = n;
  tx.send(R2H_WIRES, &b, sizeof b, v, sizeof(uint64_t) * n);
}

static bool read_records(InPort& p, const uint8_t* d, size_t len, uint32_t count, uint32_t user_words, std::string& err) {
  size_t off = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (off + sizeof(StreamRecord) > len) { err = "record " + std::to_string(i) + " truncated"; return false; }
    StreamRecord r; std::memcpy(&r, d + off, sizeof r); off += sizeof r;
    if (r.userWords != user_words) { err = "record " + std::to_string(i) + " has " + std::to_string(r.userWords) + " user words, expected " + std::to_string(user_words); return false; }
    if (off + 4ull * r.userWords + r.dataBytes > len) { err = "record " + std::to_string(i) + " data truncated"; return false; }
    Txn t; t.start = r.startCycle; t.user.resize(r.userWords);
    if (r.userWords) std::memcpy(t.user.data(), d + off, 4ull * r.userWords);
    off += 4ull * r.userWords;
    t.data.assign(d + off, d + off + r.dataBytes); off += r.dataBytes;
    p.q.push_back(std::move(t));
  }
  if (off != len) { err = std::to_string(len - off) + " bytes after the last record"; return false; }
  return true;
}

static const uint32_t IN_USER_WORDS[${Math.max(ins.length, 1)}] = { ${ins.map((p) => p.user.length).join(", ") || "0"} };

// Handle one message; returns false when the run is over.
static bool handle(const uint8_t* f, size_t len) {
  if (len < sizeof(MsgHeader)) { tx.error("frame shorter than the header"); return false; }
  MsgHeader h; std::memcpy(&h, f, sizeof h);
  if (h.magic != HCASIM_PROTOCOL_MAGIC) { tx.error("bad magic: not an hcasim harness"); return false; }
  if (h.version != HCASIM_PROTOCOL_VERSION) {
    tx.error("protocol version mismatch: harness sent v" + std::to_string(h.version) + ", RTL process " + BUILD_INFO + " speaks v" + std::to_string(HCASIM_PROTOCOL_VERSION));
    return false;
  }
  const uint8_t* body = f + sizeof h;
  size_t blen = len - sizeof h;
  switch (h.type) {
    case H2R_HELLO: {
      Body_R2H_HELLO r; r.protocolVersion = HCASIM_PROTOCOL_VERSION; r.pid = (uint32_t)getpid();
      std::memcpy(r.manifestHash, MANIFEST_HASH, 32);
      tx.send(R2H_HELLO, &r, sizeof r, BUILD_INFO, std::strlen(BUILD_INFO));
      return true;
    }
    case H2R_RESET: {
      if (blen != sizeof(Body_H2R_RESET)) { tx.error("H2R_RESET: bad body size"); return false; }
      Body_H2R_RESET b; std::memcpy(&b, body, sizeof b);
      g_ready_percent = b.outReadyPercent; g_ready_seed = b.seed;
      do_reset(b.cycles);
      return true;
    }
    case H2R_STREAM_INPUT: {
      if (blen < sizeof(Body_H2R_STREAM_INPUT)) { tx.error("H2R_STREAM_INPUT: short body"); return false; }
      Body_H2R_STREAM_INPUT b; std::memcpy(&b, body, sizeof b);
      if (b.port >= ${ins.length}) { tx.error("H2R_STREAM_INPUT: no input stream " + std::to_string(b.port)); return false; }
      std::string err;
      if (!read_records(in_ports[b.port], body + sizeof b, blen - sizeof b, b.count, IN_USER_WORDS[b.port], err)) {
        tx.error("H2R_STREAM_INPUT: " + err); return false;
      }
      return true;
    }
    case H2R_WIRE_SET: {
      if (blen != sizeof(Body_H2R_WIRE_SET)) { tx.error("H2R_WIRE_SET: bad body size"); return false; }
      Body_H2R_WIRE_SET b; std::memcpy(&b, body, sizeof b);
      switch (b.port) {
${wiresIn.map((w) => `        case ${w.index}: top->${w.name} = b.value; break;`).join("\n")}
        default: tx.error("H2R_WIRE_SET: no input wire " + std::to_string(b.port)); return false;
      }
      return true;
    }
    case H2R_ADVANCE: {
      if (blen != sizeof(Body_H2R_ADVANCE)) { tx.error("H2R_ADVANCE: bad body size"); return false; }
      Body_H2R_ADVANCE b; std::memcpy(&b, body, sizeof b);
      run_until(b.untilCycle);
      flush_outputs();
      send_wires();
      Body_R2H_ADVANCED r; r.cycle = g_cycle; r.simNs = g_sim_ns;
      r.inputBeats = 0; for (auto& p : in_ports) r.inputBeats += p.beats;
      r.outputBeats = 0; for (auto& p : out_ports) r.outputBeats += p.beats;
      tx.send(R2H_ADVANCED, &r, sizeof r);
      return true;
    }
    case H2R_END: {
      Body_R2H_END r; r.cycle = g_cycle;
      tx.send(R2H_END, &r, sizeof r);
      return false;
    }
    default:
      tx.error(std::string("unexpected message ") + msg_name(h.type));
      return false;
  }
}

// Standalone: replay a stimulus file (u32 length + frame, repeated) with no transport,
// to measure what Verilator alone does with the same stimulus.
static int run_standalone(const char* path) {
  FILE* fp = std::fopen(path, "rb");
  if (!fp) { std::fprintf(stderr, "hcasim shim %s: cannot open %s\\n", BLOCK, path); return 2; }
  std::vector<uint8_t> frame;
  uint32_t len;
  while (std::fread(&len, 4, 1, fp) == 1) {
    frame.resize(len);
    if (std::fread(frame.data(), 1, len, fp) != len) { std::fprintf(stderr, "hcasim shim %s: %s truncated\\n", BLOCK, path); return 2; }
    if (!handle(frame.data(), len)) break;
  }
  std::fclose(fp);
  std::printf("cycles=%llu sim_ns=%llu\\n", (unsigned long long)g_cycle, (unsigned long long)g_sim_ns);
  return 0;
}

int main(int argc, char** argv) {
  const char* endpoint = nullptr; const char* standalone = nullptr; const char* trace = nullptr;
  bool bind = false; int parent_watch = 1;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--endpoint" && i + 1 < argc) endpoint = argv[++i];
    else if (a == "--bind") bind = true;
    else if (a == "--standalone" && i + 1 < argc) standalone = argv[++i];
    else if (a == "--trace" && i + 1 < argc) trace = argv[++i];
    else if (a == "--info") { std::printf("%s protocol=v%u\\n", BUILD_INFO, HCASIM_PROTOCOL_VERSION); return 0; }
    else { std::fprintf(stderr, "usage: %s (--endpoint URL [--bind] | --standalone FILE | --info) [--trace FILE.vcd]\\n", argv[0]); return 2; }
  }
  // A child of the harness dies with it: no orphaned RTL processes.
  if (parent_watch && !standalone) prctl(PR_SET_PDEATHSIG, SIGKILL);
  ctx = new VerilatedContext;
  ${opts.trace ? "ctx->traceEverOn(true);" : ""}
  top = new ${top}{ctx};
  top->${m.clock.port} = 0;
${opts.trace ? `  if (trace) { tfp = new VerilatedVcdC; top->trace(tfp, 99); tfp->open(trace); }` : `  if (trace) { std::fprintf(stderr, "hcasim shim %s: built without tracing; rebuild with trace on\\n", BLOCK); return 2; }`}
  int rc = 0;
  if (standalone) {
    rc = run_standalone(standalone);
  } else {
    if (!endpoint) { std::fprintf(stderr, "hcasim shim %s: --endpoint is required\\n", BLOCK); return 2; }
    void* zctx = zmq_ctx_new();
    void* sock = zmq_socket(zctx, ZMQ_PAIR);
    int linger = 1000; zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    int r = bind ? zmq_bind(sock, endpoint) : zmq_connect(sock, endpoint);
    if (r != 0) { std::fprintf(stderr, "hcasim shim %s: cannot %s %s: %s\\n", BLOCK, bind ? "bind" : "connect", endpoint, zmq_strerror(zmq_errno())); return 3; }
    tx.sock = sock;
    zmq_msg_t msg; zmq_msg_init(&msg);
    for (;;) {
      if (zmq_msg_recv(&msg, sock, 0) < 0) {
        if (zmq_errno() == EINTR) continue;
        std::fprintf(stderr, "hcasim shim %s: receive failed: %s\\n", BLOCK, zmq_strerror(zmq_errno()));
        rc = 3; break;
      }
      bool more = handle(static_cast<const uint8_t*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
      if (!more) break;
    }
    zmq_msg_close(&msg);
    zmq_close(sock);
    zmq_ctx_term(zctx);
  }
${opts.trace ? `  if (tfp) { tfp->close(); delete tfp; }` : ""}
  top->final();
  delete top;
  delete ctx;
  return rc;
}
`;
}
