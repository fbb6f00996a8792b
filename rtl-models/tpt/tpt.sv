// tpt: translation and protection table (MPT + MTT with an MPT cache). TypeScript twin:
// hca/tpt/tpt-twin.ts; interface: block.yaml; formats: hca/formats (MPT, MTT, s_cfg
// commands) and hca/tpt/tpt-format.ts (request, response, faults), from which
// tpt_layouts.svh is generated. Spec and fault table: hca/tpt/README.md.
//
// Parameters: MPT_ENTRIES (64/256/1024) memory regions; MTT_ENTRIES (1024/4096/16384)
// pages; CACHE_ENTRIES (4/16/64) MPT cache lines, direct-mapped on the MPT index (line =
// index mod CACHE_ENTRIES, tag = the whole index); MISS_LATENCY (1..32) cycles to read an
// MPT entry from the backing table; MAX_SEGMENTS (1..16) pages one lookup may span.
//
// Ports
//   s_cfg  (40-byte beat) one table write or read per transaction:
//          +------+------+-------+----------------------------------------------+
//          | op 8 | rsvd | index | entry: MPT (32 B) / MTT (8 B) / none           |
//          +------+------+-------+----------------------------------------------+
//          op 1 MPT write, 2 MPT invalidate (HW2SW), 3 MTT write, 4 MPT read, 5 MTT read;
//          an index beyond its table or an unknown op changes nothing. An MPT
//          write/invalidate also clears the cache line of that index in the same cycle
//          (after a fill in that cycle). Ready unless a read answer waits on m_cfg_rd.
//   m_cfg_rd (40-byte beat) one answer per read, valid the cycle after the read:
//          +------+--------------------------+-------+----------------------------------+
//          | op 8 | rsvd 6 live 1 valid 1 | 16 | index | entry (zero unless valid)        |
//          +------+--------------------------+-------+----------------------------------+
//          MPT: valid = hardware-owned (written, not invalidated), live = usable by
//          lookups, entry as written; MTT: valid = written since reset. A read sees every
//          s_cfg write before it; beyond the table it answers valid 0.
//   s_req  (24-byte beat) tag 16 | access 8 | rsvd 8 | key 32 | pd 24 | rsvd 8 | va 64 | len 32
//   m_resp (16-byte beats) per lookup, in order, max(1, nseg) beats of
//          tag 16 | fault 8 | nseg 8 | addr 64 | len 32   (beat k = segment k; a fault or a
//          zero-length lookup: one beat, nseg = addr = len = 0)
//   stat_lookups/hits/misses/faults: 32-bit counters, counted when the response is decided
//          (the B → C handoff); hits/misses by the lookup's first cache probe.
//
// Checks (first failing wins): key index >= MPT_ENTRIES, entry free or page size not 12..31
// -> 1 invalid key; variant -> 2 stale key; PD -> 3; access -> 4; bounds, in exact 65-bit
// arithmetic: va < start, va+len > start+length, or va+len > 2^64 -> 5; more than
// MAX_SEGMENTS pages -> 6; an MTT index >= MTT_ENTRIES or a page not present -> 7. No
// segment leaves on a fault. Zero-length lookups pass all checks with start <= va <=
// start+length and return no segment.
//
// Pipeline (three stages, in order; every memory read is in a cycle, writes from s_cfg
// land at the end of their handshake cycle, so a read in cycle c sees writes before c):
//   A  holds one request. It probes the cache only in a cycle where B can take it. Hit (or
//      a key index beyond the table: no probe): checks, and A -> B in that cycle. Miss: wait
//      MISS_LATENCY cycles, fill the line from the MPT table in the last, probe again
//      (an MPT write meanwhile drops the line: the lookup misses again, never uses a stale
//      copy). s_req_tready = !A valid || A -> B this cycle.
//   B  reads the MTT, one page per cycle, into a segment buffer (n = max(1, pages) cycles,
//      all pages even after a fault), and hands the response to C in its last cycle or as
//      soon as C frees.
//   C  sends the response, one beat per cycle.
// So single-page hits sustain one lookup per cycle; a miss adds MISS_LATENCY + 1 cycles.
// Cycle rules (twin): probe x = max(accept+1, h[i-1]); fill at x+MISS_LATENCY, re-probe at
// max(fill+1, h[i-1]); A -> B at d; h = max(d + n, last beat of previous response);
// response beats h+1 .. h+max(1,nseg).
//
// Synchronous active-low reset of all control state and valid bits; the table contents
// need no reset (mpt_live, mtt_present and mc_valid guard them).
`default_nettype none

module tpt #(
    // MPT entries (memory regions); a key's index selects one
    parameter int MPT_ENTRIES = 256,
    // MTT entries (pages)
    parameter int MTT_ENTRIES = 4096,
    // MPT cache lines (direct-mapped), at most MPT_ENTRIES
    parameter int CACHE_ENTRIES = 16,
    // cycles to read the MPT backing table on a cache miss
    parameter int MISS_LATENCY = 8,
    // most pages (response segments) per lookup
    parameter int MAX_SEGMENTS = 8
) (
    input  wire          clk,
    input  wire          rst_n,

    input  wire [319:0]  s_cfg_tdata,
    input  wire [39:0]   s_cfg_tkeep,
    input  wire          s_cfg_tvalid,
    output wire          s_cfg_tready,
    input  wire          s_cfg_tlast,

    input  wire [191:0]  s_req_tdata,
    input  wire [23:0]   s_req_tkeep,
    input  wire          s_req_tvalid,
    output wire          s_req_tready,
    input  wire          s_req_tlast,

    output wire [127:0]  m_resp_tdata,
    output wire [15:0]   m_resp_tkeep,
    output wire          m_resp_tvalid,
    input  wire          m_resp_tready,
    output wire          m_resp_tlast,

    output wire [319:0]  m_cfg_rd_tdata,
    output wire [39:0]   m_cfg_rd_tkeep,
    output wire          m_cfg_rd_tvalid,
    input  wire          m_cfg_rd_tready,
    output wire          m_cfg_rd_tlast,

    output wire [31:0]   stat_lookups,
    output wire [31:0]   stat_hits,
    output wire [31:0]   stat_misses,
    output wire [31:0]   stat_faults
);
`include "tpt_layouts.svh"

    localparam int CFG_BEAT = CFG_BYTES + MPT_BYTES;   // 40
    localparam int RD_H = (CFG_BEAT - CFGRD_BYTES) * 8;  // bit 0 of the answer's header
    localparam int MPT_IW = $clog2(MPT_ENTRIES);
    localparam int MTT_IW = $clog2(MTT_ENTRIES);
    localparam int CIW = $clog2(CACHE_ENTRIES);
    localparam int SEG_IW = (MAX_SEGMENTS > 1) ? $clog2(MAX_SEGMENTS) : 1;
    localparam logic [7:0] MAX_SEG8 = 8'(MAX_SEGMENTS);

    generate
        if (MPT_ENTRIES != 64 && MPT_ENTRIES != 256 && MPT_ENTRIES != 1024) begin : g_bad_mpt
            $error("tpt: MPT_ENTRIES must be 64, 256 or 1024");
        end
        if ((1 << MTT_IW) != MTT_ENTRIES || (1 << CIW) != CACHE_ENTRIES) begin : g_bad_pow2
            $error("tpt: MTT_ENTRIES and CACHE_ENTRIES must be powers of two");
        end
        if (CACHE_ENTRIES > MPT_ENTRIES) begin : g_bad_cache
            $error("tpt: CACHE_ENTRIES must not exceed MPT_ENTRIES");
        end
        if (MISS_LATENCY < 1 || MISS_LATENCY > 32) begin : g_bad_lat
            $error("tpt: MISS_LATENCY must be 1..32");
        end
        if (MAX_SEGMENTS < 1 || MAX_SEGMENTS > 16) begin : g_bad_seg
            $error("tpt: MAX_SEGMENTS must be 1..16");
        end
    endgenerate

    // ---- byte order: tdata lane 0 = byte 0 -> big-endian vectors (byte 0 on top) ----------
    wire [CFG_BEAT*8-1:0]  cfg_be;
    wire [REQ_BYTES*8-1:0] req_be;
    logic [RESP_BYTES*8-1:0] resp_be;
    logic [CFG_BEAT*8-1:0]  cfg_rd_be;
    genvar gi;
    generate
        for (gi = 0; gi < CFG_BEAT; gi = gi + 1) begin : g_cfg_be
            assign cfg_be[(CFG_BEAT-1-gi)*8 +: 8] = s_cfg_tdata[gi*8 +: 8];
        end
        for (gi = 0; gi < REQ_BYTES; gi = gi + 1) begin : g_req_be
            assign req_be[(REQ_BYTES-1-gi)*8 +: 8] = s_req_tdata[gi*8 +: 8];
        end
        for (gi = 0; gi < RESP_BYTES; gi = gi + 1) begin : g_resp_be
            assign m_resp_tdata[gi*8 +: 8] = resp_be[(RESP_BYTES-1-gi)*8 +: 8];
        end
        for (gi = 0; gi < CFG_BEAT; gi = gi + 1) begin : g_cfg_rd_be
            assign m_cfg_rd_tdata[gi*8 +: 8] = cfg_rd_be[(CFG_BEAT-1-gi)*8 +: 8];
        end
    endgenerate

    // ---- tables -----------------------------------------------------------------------
    logic [MPT_BYTES*8-1:0] mpt_mem [MPT_ENTRIES];
    logic [MPT_ENTRIES-1:0] mpt_live;      // valid state and a usable page size
    logic [MPT_ENTRIES-1:0] mpt_owned;     // written and not invalidated since (read-back)
    logic [51:0]            mtt_mem [MTT_ENTRIES];
    logic [MTT_ENTRIES-1:0] mtt_present;
    logic [MTT_ENTRIES-1:0] mtt_written;   // written since reset (read-back)
    logic [MPT_IW-1:0]      mc_tag  [CACHE_ENTRIES];
    logic [MPT_BYTES*8-1:0] mc_data [CACHE_ENTRIES];
    logic [CACHE_ENTRIES-1:0] mc_valid;
    logic [CACHE_ENTRIES-1:0] mc_live;

    // ---- s_cfg decode -------------------------------------------------------------------
    wire [CFG_BYTES*8-1:0] cfg_hdr   = cfg_be[CFG_BEAT*8-1 -: CFG_BYTES*8];
    wire [MPT_BYTES*8-1:0] cfg_mpt   = cfg_be[MPT_BYTES*8-1:0];
    wire [MTT_BYTES*8-1:0] cfg_mtt   = cfg_be[MPT_BYTES*8-1 -: MTT_BYTES*8];
    wire [7:0]             cfg_op    = cfg_hdr[CFG_OP_HI -: CFG_OP_W];
    wire [31:0]            cfg_index = cfg_hdr[CFG_INDEX_HI -: CFG_INDEX_W];
    logic cfg_rd_valid;
    assign s_cfg_tready = !cfg_rd_valid || m_cfg_rd_tready;
    wire cfg_hs      = s_cfg_tvalid && s_cfg_tready;
    wire cfg_mpt_in  = cfg_index < 32'(MPT_ENTRIES);
    wire cfg_mtt_in  = cfg_index < 32'(MTT_ENTRIES);
    wire cfg_mpt_wr  = cfg_hs && cfg_mpt_in && cfg_op == OP_MPT_WRITE;
    wire cfg_mpt_inv = cfg_hs && cfg_mpt_in && cfg_op == OP_MPT_INVALIDATE;
    wire cfg_mtt_wr  = cfg_hs && cfg_mtt_in && cfg_op == OP_MTT_WRITE;
    wire cfg_mpt_rd  = cfg_hs && cfg_op == OP_MPT_READ;
    wire cfg_mtt_rd  = cfg_hs && cfg_op == OP_MTT_READ;
    wire [MPT_IW-1:0] cfg_mpt_idx = cfg_index[MPT_IW-1:0];
    wire [MTT_IW-1:0] cfg_mtt_idx = cfg_index[MTT_IW-1:0];
    wire [7:0] cfg_ps = cfg_mpt[MPT_LOG2_PAGE_SIZE_HI -: MPT_LOG2_PAGE_SIZE_W];
    wire cfg_usable = cfg_mpt[MPT_STATE_HI -: MPT_STATE_W] == 4'd1 && cfg_ps >= 8'd12 && cfg_ps <= 8'd31;

    // ---- s_cfg reads: the answer, from the tables as the writes before this cycle left them
    wire rd_mpt_valid = cfg_mpt_in && mpt_owned[cfg_mpt_idx];
    wire rd_mtt_valid = cfg_mtt_in && mtt_written[cfg_mtt_idx];
    logic [CFG_BEAT*8-1:0] rd_answer;
    always_comb begin
        rd_answer = '0;
        rd_answer[RD_H + CFGRD_OP_HI -: CFGRD_OP_W]       = cfg_op;
        rd_answer[RD_H + CFGRD_INDEX_HI -: CFGRD_INDEX_W] = cfg_index;
        if (cfg_op == OP_MPT_READ) begin
            rd_answer[RD_H + CFGRD_VALID_HI] = rd_mpt_valid;
            rd_answer[RD_H + CFGRD_LIVE_HI]  = cfg_mpt_in && mpt_live[cfg_mpt_idx];
            if (rd_mpt_valid) rd_answer[MPT_BYTES*8-1:0] = mpt_mem[cfg_mpt_idx];
        end else begin
            rd_answer[RD_H + CFGRD_VALID_HI] = rd_mtt_valid;
            if (rd_mtt_valid) begin
                rd_answer[MPT_BYTES*8 - MTT_BYTES*8 + MTT_PAGE_ADDR_HI -: MTT_PAGE_ADDR_W] = mtt_mem[cfg_mtt_idx];
                rd_answer[MPT_BYTES*8 - MTT_BYTES*8 + MTT_PRESENT_HI] = mtt_present[cfg_mtt_idx];
            end
        end
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            cfg_rd_valid <= 1'b0;
        end else if (cfg_mpt_rd || cfg_mtt_rd) begin
            cfg_rd_valid <= 1'b1;
        end else if (m_cfg_rd_tready) begin
            cfg_rd_valid <= 1'b0;
        end
        if (cfg_mpt_rd || cfg_mtt_rd) cfg_rd_be <= rd_answer;
    end
    assign m_cfg_rd_tvalid = cfg_rd_valid;
    assign m_cfg_rd_tlast  = 1'b1;
    assign m_cfg_rd_tkeep  = {CFG_BEAT{1'b1}};

    // ---- stage A: cache probe and checks ------------------------------------------------
    logic                   a_valid;
    logic [REQ_BYTES*8-1:0] a_req;
    logic                   a_wait;        // waiting for the backing table
    logic [5:0]             a_cnt;
    logic [1:0]             a_kind;        // 0 not probed yet, 2 first probe missed

    wire [15:0] a_tag    = a_req[REQ_TAG_HI -: REQ_TAG_W];
    wire [7:0]  a_access = a_req[REQ_ACCESS_HI -: REQ_ACCESS_W];
    wire [31:0] a_key    = a_req[REQ_KEY_HI -: REQ_KEY_W];
    wire [23:0] a_pd     = a_req[REQ_PD_HI -: REQ_PD_W];
    wire [63:0] a_va     = a_req[REQ_VA_HI -: REQ_VA_W];
    wire [31:0] a_len    = a_req[REQ_LEN_HI -: REQ_LEN_W];
    wire        a_in_range = a_key[31:8] < 24'(MPT_ENTRIES);
    wire [MPT_IW-1:0] a_idx  = a_key[8 +: MPT_IW];
    wire [CIW-1:0]    a_line = a_idx[CIW-1:0];
    wire        a_hit = mc_valid[a_line] && mc_tag[a_line] == a_idx;

    wire [MPT_BYTES*8-1:0] e = mc_data[a_line];
    wire        e_live  = mc_live[a_line];
    wire [3:0]  e_acc   = e[MPT_ACCESS_HI -: MPT_ACCESS_W];
    wire [7:0]  e_var   = e[MPT_VARIANT_HI -: MPT_VARIANT_W];
    wire [23:0] e_pd    = e[MPT_PD_HI -: MPT_PD_W];
    wire [7:0]  e_ps8   = e[MPT_LOG2_PAGE_SIZE_HI -: MPT_LOG2_PAGE_SIZE_W];
    wire [4:0]  e_ps    = e_ps8[4:0];
    wire [63:0] e_start = e[MPT_START_HI -: MPT_START_W];
    wire [63:0] e_len   = e[MPT_LENGTH_HI -: MPT_LENGTH_W];
    wire [31:0] e_mtt   = e[MPT_MTT_BASE_HI -: MPT_MTT_BASE_W];

    wire [64:0] sum_req = {1'b0, a_va} + {33'b0, a_len};
    wire [64:0] sum_reg = {1'b0, e_start} + {1'b0, e_len};
    wire        a_bounds_bad = a_va < e_start || sum_req > sum_reg || (sum_req[64] && |sum_req[63:0]);
    wire [63:0] a_pmask = (64'd1 << e_ps) - 64'd1;
    wire [30:0] a_off0  = a_va[30:0] & a_pmask[30:0];
    wire [33:0] a_span  = ({3'b0, a_off0} + {2'b0, a_len} - 34'd1) >> e_ps;
    wire [33:0] a_nseg  = (a_len == 32'd0) ? 34'd0 : a_span + 34'd1;
    wire [63:0] a_mtt0  = {32'b0, e_mtt} + ((a_va >> e_ps) - (e_start >> e_ps));

    logic [7:0] a_fault;
    always_comb begin
        if (!a_in_range || !e_live)                         a_fault = FAULT_INVALID_KEY;
        else if (a_key[7:0] != e_var)                       a_fault = FAULT_STALE_KEY;
        else if (a_pd != e_pd)                              a_fault = FAULT_PD_VIOLATION;
        else if ((a_access & ~{4'b0, e_acc}) != 8'd0)       a_fault = FAULT_ACCESS_VIOLATION;
        else if (a_bounds_bad)                              a_fault = FAULT_BOUNDS_VIOLATION;
        else if (a_nseg > {26'b0, MAX_SEG8})                a_fault = FAULT_TOO_MANY_SEGMENTS;
        else                                                a_fault = FAULT_OK;
    end

    // ---- stage B / C handshakes ---------------------------------------------------------
    logic       b_valid;
    logic [7:0] b_nseg;        // MTT reads to do (0 on a fault from A or a zero length)
    logic [7:0] b_k;           // reads done
    logic       c_valid;
    logic [7:0] c_nseg;
    logic [7:0] c_beat;
    wire c_last      = c_nseg == 8'd0 || c_beat == c_nseg - 8'd1;
    wire c_free_next = !c_valid || (m_resp_tready && c_last);
    wire b_reading   = b_valid && b_k < b_nseg;
    wire b_last      = b_valid && (b_k + 8'd1 >= b_nseg);
    wire b_go        = b_last && c_free_next;
    wire b_can_take  = !b_valid || b_go;

    wire a_probe = a_valid && !a_wait && b_can_take;
    wire a_go    = a_probe && (!a_in_range || a_hit);
    wire a_miss  = a_probe && a_in_range && !a_hit;
    wire a_fill  = a_valid && a_wait && a_cnt == 6'd0;
    wire [1:0] a_kind_go = (a_kind != 2'd0) ? a_kind : (a_in_range ? 2'd1 : 2'd0);
    assign s_req_tready = !a_valid || a_go;

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            a_valid <= 1'b0;
            a_wait  <= 1'b0;
            a_cnt   <= 6'd0;
            a_kind  <= 2'd0;
        end else begin
            if (s_req_tvalid && s_req_tready) begin
                a_valid <= 1'b1;
                a_req   <= req_be;
                a_wait  <= 1'b0;
                a_kind  <= 2'd0;
            end else if (a_go) begin
                a_valid <= 1'b0;
            end
            if (a_miss) begin
                a_wait <= 1'b1;
                a_cnt  <= 6'(MISS_LATENCY - 1);
                if (a_kind == 2'd0) a_kind <= 2'd2;
            end else if (a_fill) begin
                a_wait <= 1'b0;
            end else if (a_wait) begin
                a_cnt <= a_cnt - 6'd1;
            end
        end
    end

    // ---- table and cache writes ---------------------------------------------------------
    always_ff @(posedge clk) begin
        if (cfg_mpt_wr) mpt_mem[cfg_mpt_idx] <= cfg_mpt;
        if (cfg_mtt_wr) mtt_mem[cfg_mtt_idx] <= cfg_mtt[MTT_PAGE_ADDR_HI -: MTT_PAGE_ADDR_W];
        if (a_fill) begin
            mc_tag[a_line]  <= a_idx;
            mc_data[a_line] <= mpt_mem[a_idx];
        end
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            /* verilator lint_off WIDTHCONCAT */
            mpt_live    <= '0;
            mpt_owned   <= '0;
            mtt_present <= '0;
            mtt_written <= '0;
            mc_valid    <= '0;
            mc_live     <= '0;
            /* verilator lint_on WIDTHCONCAT */
        end else begin
            if (cfg_mpt_wr)  mpt_live[cfg_mpt_idx] <= cfg_usable;
            if (cfg_mpt_inv) mpt_live[cfg_mpt_idx] <= 1'b0;
            if (cfg_mpt_wr)  mpt_owned[cfg_mpt_idx] <= 1'b1;
            if (cfg_mpt_inv) mpt_owned[cfg_mpt_idx] <= 1'b0;
            if (cfg_mtt_wr)  mtt_present[cfg_mtt_idx] <= cfg_mtt[MTT_PRESENT_HI];
            if (cfg_mtt_wr)  mtt_written[cfg_mtt_idx] <= 1'b1;
            if (a_fill) begin
                mc_valid[a_line] <= 1'b1;
                mc_live[a_line]  <= mpt_live[a_idx];
            end
            // after the fill: a write in the fill's cycle must win (security)
`ifndef HCASIM_DEFECT_KEEP_STALE_CACHE
            if (cfg_mpt_wr || cfg_mpt_inv) mc_valid[cfg_mpt_idx[CIW-1:0]] <= 1'b0;
`endif
        end
    end

    // ---- stage B: MTT translation into the segment buffer -------------------------------
    logic [15:0] b_tag;
    logic [7:0]  b_fault;
    logic [1:0]  b_kind;
    logic [63:0] b_mtt_idx;
    logic [31:0] b_rem;
    logic [30:0] b_off;
    logic [4:0]  b_ps;
    logic [MAX_SEGMENTS*64-1:0] b_addr;
    logic [MAX_SEGMENTS*32-1:0] b_len;

    wire              b_idx_ok  = (b_mtt_idx >> MTT_IW) == 64'd0;
    wire [MTT_IW-1:0] b_idx     = b_mtt_idx[MTT_IW-1:0];
    wire              b_present = b_idx_ok && mtt_present[b_idx];
    wire [63:0]       b_page    = {mtt_mem[b_idx], 12'b0};
    wire [32:0]       b_avail   = (33'd1 << b_ps) - {2'b0, b_off};
    wire [31:0]       b_seg_len = ({1'b0, b_rem} < b_avail) ? b_rem : b_avail[31:0];
    wire [63:0]       b_seg_addr = b_page + {33'b0, b_off};
    wire [SEG_IW-1:0] b_slot    = b_k[SEG_IW-1:0];
    wire [7:0]        b_fault_n = (b_fault != FAULT_OK) ? b_fault :
                                  (b_reading && !b_present) ? FAULT_TRANSLATION_FAULT : FAULT_OK;
    logic [MAX_SEGMENTS*64-1:0] b_addr_n;
    logic [MAX_SEGMENTS*32-1:0] b_len_n;
    always_comb begin
        b_addr_n = b_addr;
        b_len_n  = b_len;
        if (b_reading) begin
            b_addr_n[b_slot*64 +: 64] = b_seg_addr;
            b_len_n[b_slot*32 +: 32]  = b_seg_len;
        end
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            b_valid <= 1'b0;
            b_nseg  <= 8'd0;
            b_k     <= 8'd0;
        end else if (a_go) begin
            b_valid   <= 1'b1;
            b_tag     <= a_tag;
            b_fault   <= a_fault;
            b_kind    <= a_kind_go;
            b_nseg    <= (a_fault == FAULT_OK) ? a_nseg[7:0] : 8'd0;
            b_k       <= 8'd0;
            b_mtt_idx <= a_mtt0;
            b_rem     <= a_len;
            b_off     <= a_off0;
            b_ps      <= e_ps;
        end else begin
            if (b_go) b_valid <= 1'b0;
            if (b_reading) begin
                b_k       <= b_k + 8'd1;
                b_mtt_idx <= b_mtt_idx + 64'd1;
                b_rem     <= b_rem - b_seg_len;
                b_off     <= 31'd0;
                b_addr    <= b_addr_n;
                b_len     <= b_len_n;
                b_fault   <= b_fault_n;
            end
        end
    end

    // ---- stage C: response beats, and the counters ---------------------------------------
    logic [15:0] c_tag;
    logic [7:0]  c_fault;
    logic [MAX_SEGMENTS*64-1:0] c_addr;
    logic [MAX_SEGMENTS*32-1:0] c_len;
    logic [31:0] n_lookups, n_hits, n_misses, n_faults;

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            c_valid   <= 1'b0;
            c_nseg    <= 8'd0;
            c_beat    <= 8'd0;
            n_lookups <= 32'd0;
            n_hits    <= 32'd0;
            n_misses  <= 32'd0;
            n_faults  <= 32'd0;
        end else begin
            if (b_go) begin
                c_valid   <= 1'b1;
                c_tag     <= b_tag;
                c_fault   <= b_fault_n;
                c_nseg    <= (b_fault_n == FAULT_OK) ? b_nseg : 8'd0;
                c_beat    <= 8'd0;
                c_addr    <= b_addr_n;
                c_len     <= b_len_n;
                n_lookups <= n_lookups + 32'd1;
                if (b_kind == 2'd1) n_hits <= n_hits + 32'd1;
                if (b_kind == 2'd2) n_misses <= n_misses + 32'd1;
                if (b_fault_n != FAULT_OK) n_faults <= n_faults + 32'd1;
            end else if (c_valid && m_resp_tready) begin
                if (c_last) c_valid <= 1'b0;
                else c_beat <= c_beat + 8'd1;
            end
        end
    end

    wire [SEG_IW-1:0] c_slot = c_beat[SEG_IW-1:0];
    wire              c_seg  = c_nseg != 8'd0;
    always_comb begin
        resp_be = '0;
        resp_be[RESP_TAG_HI -: RESP_TAG_W]     = c_tag;
        resp_be[RESP_FAULT_HI -: RESP_FAULT_W] = c_fault;
        resp_be[RESP_NSEG_HI -: RESP_NSEG_W]   = c_nseg;
        resp_be[RESP_ADDR_HI -: RESP_ADDR_W]   = c_seg ? c_addr[c_slot*64 +: 64] : 64'd0;
        resp_be[RESP_LEN_HI -: RESP_LEN_W]     = c_seg ? c_len[c_slot*32 +: 32] : 32'd0;
    end
    assign m_resp_tvalid = c_valid;
    assign m_resp_tlast  = c_last;
    assign m_resp_tkeep  = {RESP_BYTES{1'b1}};
    assign stat_lookups  = n_lookups;
    assign stat_hits     = n_hits;
    assign stat_misses   = n_misses;
    assign stat_faults   = n_faults;

    // reserved fields and unused inputs (single-beat streams, full-width keep)
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused_ok = &{1'b0, s_cfg_tkeep, s_cfg_tlast, s_req_tkeep, s_req_tlast, cfg_hdr, a_req, e, a_pmask, e_ps8};
    /* verilator lint_on UNUSEDSIGNAL */
endmodule

`default_nettype wire
