// wqe_fetch: WQE fetch, owner check and parse. Spec: hca/wqe-fetch/README.md; interface:
// block.yaml; formats: hca/formats/wqe.ts (WQE layouts) and hca/wqe-fetch/formats.ts (port
// records); TypeScript twin: hca/wqe-fetch/wqe-fetch-twin.ts (cycle-exact, outputs ready).
//
// Per cycle c, from the registered state at the start of c:
//   1. output registers valid at c handshake;
//   2. retire: slot[rp] issued and holding data -> parsed into m_wr or m_err (valid at c+1),
//      freed, rp + 1;
//   3. issue: fetch active and slot[wp] not issued -> read of WQE ci on m_dma_rd (valid at
//      c+1), tag = wp; ci + 1 written back to the ring table; the fetch ends at ci == counter;
//   4. s_dma_cpl ready iff slot[tag mod TAGS] holds no data; the data is stored;
//   5. s_fetch ready iff no fetch is active (ring table read at c); s_cfg always ready and
//      written last (it wins over the issue's ci write-back to the same ring).
// An output that is not ready holds its register and stalls retire (m_wr/m_err) or issue
// (m_dma_rd); the twin assumes outputs are always ready, so this never happens in lockstep.
//
// Records: byte 0 in tdata[7:0], big-endian fields. Every field position, opcode, reason
// and flag comes from wqe_fetch_layouts.svh, generated from the TypeScript layouts
// (hca/wqe-fetch/gen-wqe-fetch-layouts.ts): tdata is byte-reversed into a big-endian
// vector `rec` and a field F of layout L is rec[L_F_HI -: L_F_W].

`resetall
`timescale 1ns / 1ps
`default_nettype none

module wqe_fetch #(
    parameter integer QP_ENTRIES = 64,   // ring-table QPs (QPN 0..QP_ENTRIES-1), power of two
    parameter integer TAGS       = 8     // DMA tags = read slots, power of two
) (
    input  wire          clk,
    input  wire          rst_n,

    input  wire [95:0]   s_fetch_tdata,
    input  wire [11:0]   s_fetch_tkeep,
    input  wire          s_fetch_tvalid,
    output wire          s_fetch_tready,
    input  wire          s_fetch_tlast,

    input  wire [127:0]  s_cfg_tdata,
    input  wire [15:0]   s_cfg_tkeep,
    input  wire          s_cfg_tvalid,
    output wire          s_cfg_tready,
    input  wire          s_cfg_tlast,

    output wire [127:0]  m_dma_rd_tdata,
    output wire [15:0]   m_dma_rd_tkeep,
    output wire          m_dma_rd_tvalid,
    input  wire          m_dma_rd_tready,
    output wire          m_dma_rd_tlast,

    input  wire [1087:0] s_dma_cpl_tdata,
    input  wire [135:0]  s_dma_cpl_tkeep,
    input  wire          s_dma_cpl_tvalid,
    output wire          s_dma_cpl_tready,
    input  wire          s_dma_cpl_tlast,

    output wire [1535:0] m_wr_tdata,
    output wire [191:0]  m_wr_tkeep,
    output wire          m_wr_tvalid,
    input  wire          m_wr_tready,
    output wire          m_wr_tlast,

    output wire [63:0]   m_err_tdata,
    output wire [7:0]    m_err_tkeep,
    output wire          m_err_tvalid,
    input  wire          m_err_tready,
    output wire          m_err_tlast,

    output wire [31:0]   stat_fetches,
    output wire [31:0]   stat_reads,
    output wire [31:0]   stat_wrs,
    output wire [31:0]   stat_err_owner,
    output wire [31:0]   stat_err_malformed
);
`include "wqe_fetch_layouts.svh"

localparam integer QP_AW = $clog2(QP_ENTRIES);
localparam integer RING_AW = QP_AW + 1;          // {qpn, kind}
localparam integer RINGS = 2 * QP_ENTRIES;
localparam integer TW = $clog2(TAGS);
localparam integer RING_CFG_W = CFG_BASE_W + CFG_LOG_SIZE_W;   // {base, logSize} of one ring

localparam integer SEG_W = WQE_SEG_BYTES * 8;           // one WQE segment [bits]
localparam integer INL_AT = SEG_W - INL_BYTES * 8;      // the inline header is a segment's first word

generate
    if ((1 << QP_AW) != QP_ENTRIES || QP_AW < 2 || QP_AW > 16) begin : g_bad_qp_entries
        $error("wqe_fetch: QP_ENTRIES = %0d is not a power of two, 4..65536", QP_ENTRIES);
    end
    if ((1 << TW) != TAGS || TW < 1 || TW > 8) begin : g_bad_tags
        $error("wqe_fetch: TAGS = %0d is not a power of two, 2..256", TAGS);
    end
    // the port widths (block.yaml) must be the layouts' sizes
    if (FETCH_BYTES != 12 || CFG_BYTES != 16 || RD_BYTES != 16 || CPL_BYTES != 136 ||
        WR_BYTES != 192 || ERR_BYTES != 8 || CPL_DATA_W != WQE_STRIDE_BYTES * 8 ||
        WR_PAYLOAD_W != WQE_STRIDE_BYTES * 8) begin : g_bad_layouts
        $error("wqe_fetch: port widths differ from wqe_fetch_layouts.svh; update block.yaml and the ports");
    end
endgenerate

// ---- byte order: records are big-endian, byte 0 in lane 0 ------------------------------
wire [FETCH_BYTES*8-1:0] fetch_rec;
wire [CFG_BYTES*8-1:0]   cfg_rec;
wire [CPL_BYTES*8-1:0]   cpl_rec;
reg  [RD_BYTES*8-1:0]    rd_rec_q;
reg  [WR_BYTES*8-1:0]    wr_rec_q;
reg  [ERR_BYTES*8-1:0]   err_rec_q;
genvar gi;
generate
    for (gi = 0; gi < FETCH_BYTES; gi = gi + 1) begin : g_fetch_bytes
        assign fetch_rec[FETCH_BYTES*8-1-8*gi -: 8] = s_fetch_tdata[8*gi +: 8];
    end
    for (gi = 0; gi < CFG_BYTES; gi = gi + 1) begin : g_cfg_bytes
        assign cfg_rec[CFG_BYTES*8-1-8*gi -: 8] = s_cfg_tdata[8*gi +: 8];
    end
    for (gi = 0; gi < RD_BYTES; gi = gi + 1) begin : g_rd_bytes
        assign m_dma_rd_tdata[8*gi +: 8] = rd_rec_q[RD_BYTES*8-1-8*gi -: 8];
    end
    for (gi = 0; gi < CPL_BYTES; gi = gi + 1) begin : g_cpl_bytes
        assign cpl_rec[CPL_BYTES*8-1-8*gi -: 8] = s_dma_cpl_tdata[8*gi +: 8];
    end
    for (gi = 0; gi < WR_BYTES; gi = gi + 1) begin : g_wr_bytes
        assign m_wr_tdata[8*gi +: 8] = wr_rec_q[WR_BYTES*8-1-8*gi -: 8];
    end
    for (gi = 0; gi < ERR_BYTES; gi = gi + 1) begin : g_err_bytes
        assign m_err_tdata[8*gi +: 8] = err_rec_q[ERR_BYTES*8-1-8*gi -: 8];
    end
endgenerate
wire [CPL_DATA_W-1:0] cpl_wqe = cpl_rec[CPL_DATA_HI -: CPL_DATA_W];   // the WQE, byte 0 at the MSB

// ---- state -----------------------------------------------------------------------------
// {base, logSize} per ring: written by s_cfg only, read once per fetch through a register,
// so it maps to block RAM. Not reset: firmware configures a ring before ringing its doorbell.
(* ram_style = "block" *)
reg  [RING_CFG_W-1:0] ring_cfg_mem [RINGS];
reg  [15:0]        ring_ci_q   [RINGS];

reg  [TAGS-1:0]    slot_issued_q;
reg  [TAGS-1:0]    slot_has_q;
reg  [1023:0]      slot_data_q  [TAGS];
reg  [QP_AW-1:0]   slot_qpn_q   [TAGS];
reg                slot_kind_q  [TAGS];
reg  [15:0]        slot_index_q [TAGS];
reg                slot_owner_q [TAGS];

reg  [TW-1:0]      rp_q, wp_q;
reg                busy_q;
reg  [QP_AW-1:0]   cur_qpn_q;
reg                cur_kind_q;
reg  [15:0]        cur_ci_q;
reg  [15:0]        cur_end_q;
reg  [RING_CFG_W-1:0] cur_cfg_q;  // the fetched ring's {base, logSize}: the block RAM's read register
wire [63:0]        cur_base = cur_cfg_q[RING_CFG_W-1 -: CFG_BASE_W];
wire [3:0]         cur_log  = cur_cfg_q[CFG_LOG_SIZE_W-1:0];

reg                rd_valid_q, wr_valid_q, err_valid_q;
reg  [31:0]        cnt_fetches, cnt_reads, cnt_wrs, cnt_owner, cnt_malformed;

// ---- decisions (state at the start of the cycle) ---------------------------------------
wire out_stall_retire = (wr_valid_q && !m_wr_tready) || (err_valid_q && !m_err_tready);
wire out_stall_issue  = rd_valid_q && !m_dma_rd_tready;
wire do_retire = slot_issued_q[rp_q] && slot_has_q[rp_q] && !out_stall_retire;
wire do_issue  = busy_q && !slot_issued_q[wp_q] && !out_stall_issue;

wire [TW-1:0] cpl_tag = cpl_rec[CPL_TAG_HI-CPL_TAG_W+1 +: TW];    // tag mod TAGS
assign s_dma_cpl_tready = !slot_has_q[cpl_tag];
wire do_cpl = s_dma_cpl_tvalid && s_dma_cpl_tready;

assign s_fetch_tready = !busy_q;
wire do_fetch = s_fetch_tvalid && !busy_q;
wire [23:0]        f_qpn     = fetch_rec[FETCH_QPN_HI -: FETCH_QPN_W];
wire               f_kind    = fetch_rec[FETCH_KIND_HI-FETCH_KIND_W+1];   // send 0 / receive 1
wire [15:0]        f_counter = fetch_rec[FETCH_COUNTER_HI -: FETCH_COUNTER_W];
wire               f_in_range = f_qpn[23:QP_AW] == 0;
wire [RING_AW-1:0] f_ring    = {f_qpn[QP_AW-1:0], f_kind};

assign s_cfg_tready = 1'b1;
wire [23:0]        c_qpn   = cfg_rec[CFG_QPN_HI -: CFG_QPN_W];
wire               c_kind  = cfg_rec[CFG_KIND_HI -: CFG_KIND_W];
wire [3:0]         c_log   = cfg_rec[CFG_LOG_SIZE_HI -: CFG_LOG_SIZE_W];
wire [15:0]        c_ci    = cfg_rec[CFG_CI_HI -: CFG_CI_W];
wire [63:0]        c_base  = cfg_rec[CFG_BASE_HI -: CFG_BASE_W];
wire               do_cfg  = s_cfg_tvalid && c_qpn[23:QP_AW] == 0;
wire [RING_AW-1:0] c_ring  = {c_qpn[QP_AW-1:0], c_kind};

// ---- issue -----------------------------------------------------------------------------
wire [15:0]        ci_mask  = ~(16'hffff << cur_log);
wire [15:0]        ci_slot  = cur_ci_q & ci_mask;
wire [63:0]        rd_addr  = cur_base + {41'd0, ci_slot, 7'd0};     // base + slot * WQE_STRIDE_BYTES
wire [15:0]        ci_next  = cur_ci_q + 16'd1;
wire               ci_owner = cur_ci_q[cur_log];
wire [RING_AW-1:0] cur_ring = {cur_qpn_q, cur_kind_q};
wire [RD_TAG_W-1:0] wp_tag  = {{(RD_TAG_W-TW){1'b0}}, wp_q};
reg  [RD_BYTES*8-1:0] rd_rec;
always @(*) begin
    rd_rec = '0;
    rd_rec[RD_TAG_HI -: RD_TAG_W]       = wp_tag;
    rd_rec[RD_LENGTH_HI -: RD_LENGTH_W] = WQE_STRIDE_BYTES[RD_LENGTH_W-1:0];
    rd_rec[RD_ADDR_HI -: RD_ADDR_W]     = rd_addr;
end

// ---- parse of slot[rp] -------------------------------------------------------------------
wire [1023:0] d       = slot_data_q[rp_q];
wire          p_kind  = slot_kind_q[rp_q];
wire [SEG_W-1:0] seg [WQE_MAX_SIZE];
generate
    for (gi = 0; gi < WQE_MAX_SIZE; gi = gi + 1) begin : g_segs
        assign seg[gi] = d[1023-SEG_W*gi -: SEG_W];
    end
endgenerate
wire [SEG_W-1:0] ctrl = seg[0];
wire         w_owner  = ctrl[CTRL_OWNER_HI];
wire [4:0]   w_opcode = ctrl[CTRL_OPCODE_HI -: CTRL_OPCODE_W];
wire         w_fence  = ctrl[CTRL_FENCE_HI];
wire [5:0]   w_size   = ctrl[CTRL_SIZE_HI -: CTRL_SIZE_W];
wire [1:0]   w_cqupd  = ctrl[CTRL_CQ_UPDATE_HI -: CTRL_CQ_UPDATE_W];
wire         w_solic  = ctrl[CTRL_SOLICITED_HI];
wire [31:0]  w_imm    = ctrl[CTRL_IMM_HI -: CTRL_IMM_W];

`ifdef HCASIM_DEFECT_SKIP_OWNER_CHECK
wire         exp_owner = w_owner;                 // DEFECT: the owner bit is not checked
`else
wire         exp_owner = slot_owner_q[rp_q];
`endif

// the opcode table: fixed units (ctrl + raddr + atomic), 0 = not an opcode
wire [OPCODE_INFO_W-1:0]  w_info         = wqe_opcode_info(w_opcode);
wire                      w_known        = w_info[OPCODE_INFO_W-1];
wire                      w_has_raddr    = w_info[OPCODE_INFO_W-2];
wire [ATOMIC_UNITS_W-1:0] w_atomic_units = w_info[ATOMIC_UNITS_W-1:0];
wire [2:0] w_fixed = w_known ? 3'd1 + {2'b0, w_has_raddr} + {{(3-ATOMIC_UNITS_W){1'b0}}, w_atomic_units} : 3'd0;

// segment bits
wire [7:0] seg_inl;      // the inline bit of the segment's first word
wire [7:0] seg_lkinv;    // lkey == INVALID_LKEY (receive)
generate
    for (gi = 0; gi < WQE_MAX_SIZE; gi = gi + 1) begin : g_seg_bits
        assign seg_inl[gi]   = seg[gi][INL_AT + INL_INLINE_HI];
        assign seg_lkinv[gi] = seg[gi][DSEG_LKEY_HI -: DSEG_LKEY_W] == INVALID_LKEY;
    end
endgenerate

// receive: SGEs up to the first invalid lkey; bad if any of them has the inline bit
reg [3:0] r_nsge;
reg       r_bad;
integer   k;
always @(*) begin
    r_nsge = 4'd8;
    for (k = 7; k >= 0; k = k - 1)
        if (seg_lkinv[k]) r_nsge = k[3:0];
    r_bad = 1'b0;
    for (k = 0; k < 8; k = k + 1)
        if (k[3:0] < r_nsge && seg_inl[k]) r_bad = 1'b1;
end

// send: segments after the fixed ones, up to size
wire [3:0]   s_fixed   = {1'b0, w_fixed};
wire [3:0]   s_size4   = w_size[3:0];
wire         s_size_bad = w_size < {3'd0, w_fixed} || w_size > 6'd8;
wire [3:0]   s_body    = s_size4 - s_fixed;                  // segments after the fixed ones
wire [SEG_W-1:0] s_first = seg[w_fixed];                          // the first body segment
wire         s_inline  = s_body != 4'd0 && s_first[INL_AT + INL_INLINE_HI];
wire [30:0]  s_inl_n   = s_first[INL_AT + INL_BYTE_COUNT_HI -: INL_BYTE_COUNT_W];
wire [30:0]  s_inl_max = {23'd0, s_body, 4'd0} - 31'd4;    // bytes after the inline header
reg          s_seg_bad;
always @(*) begin
    s_seg_bad = 1'b0;
    for (k = 0; k < 8; k = k + 1)
        if (k[3:0] >= s_fixed && k[3:0] < s_size4 && seg_inl[k]) s_seg_bad = 1'b1;
end

// verdict
wire [3:0] p_reason =
    p_kind ? (r_bad ? REASON_BAD_SEGMENT : 4'd0) :
    (w_owner != exp_owner)                          ? REASON_STALE_OWNER :
    (w_fixed == 3'd0)                               ? REASON_BAD_OPCODE  :
    s_size_bad                                      ? REASON_BAD_SIZE    :
    (s_inline ? (s_inl_n > s_inl_max) : s_seg_bad)  ? REASON_BAD_SEGMENT : 4'd0;
wire [7:0] p_opcode = p_kind ? 8'd0 : {3'd0, w_opcode};

// payload: the WQE bytes from `p_shift` on, the first `p_len` of them (rest zero)
wire [7:0]  p_shift = p_kind ? 8'd0 : {1'd0, w_fixed, 4'd0} + (s_inline ? 8'd4 : 8'd0);
wire [7:0]  p_len   = p_kind ? {r_nsge, 4'd0} : s_inline ? s_inl_n[7:0] : {s_body, 4'd0};
wire [1023:0] p_shifted = d << {p_shift, 3'b0};
wire [1023:0] p_mask    = ~({1024{1'b1}} >> {p_len, 3'b0});
wire [1023:0] p_payload = p_shifted & p_mask;

wire [7:0]  p_flags = p_kind ? 8'd0 :
                      ((w_cqupd != 2'd0) ? WR_FLAG_SIGNALLED : 8'd0) |
                      (w_solic ? WR_FLAG_SOLICITED : 8'd0) |
                      (w_fence ? WR_FLAG_FENCE : 8'd0) |
                      (s_inline ? WR_FLAG_INLINE : 8'd0);
wire [7:0]  p_nsge   = p_kind ? {4'd0, r_nsge} : s_inline ? 8'd0 : {4'd0, s_body};
wire [15:0] p_inl    = (!p_kind && s_inline) ? {1'b0, s_inl_n[14:0]} : 16'd0;
wire [31:0] p_imm    = p_kind ? 32'd0 : w_imm;
wire        p_raddr_on  = !p_kind && w_has_raddr;
wire        p_atomic_on = !p_kind && w_atomic_units != '0;
wire        p_masked_on = !p_kind && w_atomic_units == 2'd2;
// segment order: ctrl, then raddr (seg 1) when the opcode has one, then the atomic segment
// from seg 2: one unit (swapAdd, compare), or two for a masked atomic (seg 3: the masks).
// The masked layout starts with the plain one's fields, so one vector serves both.
wire [MATOMIC_BYTES*8-1:0] p_atomic = {seg[2], seg[3]};
wire [63:0] p_raddr  = p_raddr_on  ? seg[1][RADDR_RADDR_HI -: RADDR_RADDR_W]      : 64'd0;
wire [31:0] p_rkey   = p_raddr_on  ? seg[1][RADDR_RKEY_HI -: RADDR_RKEY_W]        : 32'd0;
wire [63:0] p_swap      = p_atomic_on ? p_atomic[MATOMIC_SWAP_ADD_HI -: MATOMIC_SWAP_ADD_W]         : 64'd0;
wire [63:0] p_cmp       = p_atomic_on ? p_atomic[MATOMIC_COMPARE_HI -: MATOMIC_COMPARE_W]           : 64'd0;
wire [63:0] p_swap_mask = p_masked_on ? p_atomic[MATOMIC_SWAP_MASK_HI -: MATOMIC_SWAP_MASK_W]       : 64'd0;
wire [63:0] p_cmp_mask  = p_masked_on ? p_atomic[MATOMIC_COMPARE_MASK_HI -: MATOMIC_COMPARE_MASK_W] : 64'd0;

wire [23:0] p_qpn   = {{(24-QP_AW){1'b0}}, slot_qpn_q[rp_q]};
wire [15:0] p_index = slot_index_q[rp_q];

reg [WR_BYTES*8-1:0]  p_wr_rec;
reg [ERR_BYTES*8-1:0] p_err_rec;
always @(*) begin
    p_wr_rec = '0;
    p_wr_rec[WR_QPN_HI -: WR_QPN_W]                   = p_qpn;
    p_wr_rec[WR_KIND_HI-WR_KIND_W+1]                  = p_kind;
    p_wr_rec[WR_INDEX_HI -: WR_INDEX_W]               = p_index;
    p_wr_rec[WR_OPCODE_HI -: WR_OPCODE_W]             = p_opcode;
    p_wr_rec[WR_FLAGS_HI -: WR_FLAGS_W]               = p_flags;
    p_wr_rec[WR_NSGE_HI -: WR_NSGE_W]                 = p_nsge;
    p_wr_rec[WR_INLINE_BYTES_HI -: WR_INLINE_BYTES_W] = p_inl;
    p_wr_rec[WR_IMM_HI -: WR_IMM_W]                   = p_imm;
    p_wr_rec[WR_RADDR_HI -: WR_RADDR_W]               = p_raddr;
    p_wr_rec[WR_RKEY_HI -: WR_RKEY_W]                 = p_rkey;
    p_wr_rec[WR_SWAP_ADD_HI -: WR_SWAP_ADD_W]         = p_swap;
    p_wr_rec[WR_COMPARE_HI -: WR_COMPARE_W]           = p_cmp;
    p_wr_rec[WR_SWAP_MASK_HI -: WR_SWAP_MASK_W]       = p_swap_mask;
    p_wr_rec[WR_COMPARE_MASK_HI -: WR_COMPARE_MASK_W] = p_cmp_mask;
    p_wr_rec[WR_PAYLOAD_HI -: WR_PAYLOAD_W]           = p_payload;
    p_err_rec = '0;
    p_err_rec[ERR_REASON_HI -: ERR_REASON_W]          = p_reason;
    p_err_rec[ERR_KIND_HI-ERR_KIND_W+1]               = p_kind;
    p_err_rec[ERR_QPN_HI -: ERR_QPN_W]                = p_qpn;
    p_err_rec[ERR_INDEX_HI -: ERR_INDEX_W]            = p_index;
    p_err_rec[ERR_OPCODE_HI -: ERR_OPCODE_W]          = p_opcode;
end

// ---- sequential --------------------------------------------------------------------------
// ring table: {base, logSize} in block RAM; a fetch reads the entry as it was at the start
// of the cycle (read-before-write: a s_cfg of the same cycle applies after it)
always @(posedge clk) begin
    if (rst_n && do_cfg) ring_cfg_mem[c_ring] <= {c_base, c_log};
end
always @(posedge clk) begin
    if (rst_n && do_fetch && f_in_range) cur_cfg_q <= ring_cfg_mem[f_ring];
end

// ci per ring in registers (two writers): the issue writes ci back, s_cfg (applied last) wins
generate
    for (gi = 0; gi < RINGS; gi = gi + 1) begin : g_rings
        always @(posedge clk) begin
            if (!rst_n) begin
                ring_ci_q[gi]   <= 16'd0;
            end else if (do_cfg && c_ring == gi[RING_AW-1:0]) begin
                ring_ci_q[gi]   <= c_ci;
            end else if (do_issue && cur_ring == gi[RING_AW-1:0]) begin
                ring_ci_q[gi]   <= ci_next;
            end
        end
    end
endgenerate

always @(posedge clk) begin
    // payload registers (no reset needed: only read while valid / issued / holding data)
    if (do_retire) begin
        wr_rec_q  <= p_wr_rec;
        err_rec_q <= p_err_rec;
    end
    if (do_issue) begin
        rd_rec_q              <= rd_rec;
        slot_qpn_q[wp_q]      <= cur_qpn_q;
        slot_kind_q[wp_q]     <= cur_kind_q;
        slot_index_q[wp_q]    <= cur_ci_q;
        slot_owner_q[wp_q]    <= ci_owner;
    end
    if (do_cpl) slot_data_q[cpl_tag] <= cpl_wqe;

    if (!rst_n) begin
        slot_issued_q <= '0;
        slot_has_q    <= '0;
        rp_q          <= '0;
        wp_q          <= '0;
        busy_q        <= 1'b0;
        cur_qpn_q     <= '0;
        cur_kind_q    <= 1'b0;
        cur_ci_q      <= 16'd0;
        cur_end_q     <= 16'd0;
        rd_valid_q    <= 1'b0;
        wr_valid_q    <= 1'b0;
        err_valid_q   <= 1'b0;
        cnt_fetches   <= 32'd0;
        cnt_reads     <= 32'd0;
        cnt_wrs       <= 32'd0;
        cnt_owner     <= 32'd0;
        cnt_malformed <= 32'd0;
    end else begin
        // 1. outputs handshake
        if (rd_valid_q && m_dma_rd_tready) rd_valid_q <= 1'b0;
        if (wr_valid_q && m_wr_tready)     wr_valid_q <= 1'b0;
        if (err_valid_q && m_err_tready)   err_valid_q <= 1'b0;
        // 2. retire
        if (do_retire) begin
            slot_issued_q[rp_q] <= 1'b0;
            slot_has_q[rp_q]    <= 1'b0;
            rp_q                <= rp_q + 1'b1;
            if (p_reason == 4'd0) begin
                wr_valid_q <= 1'b1;
                cnt_wrs    <= cnt_wrs + 32'd1;
            end else begin
                err_valid_q <= 1'b1;
                if (p_reason == REASON_STALE_OWNER) cnt_owner <= cnt_owner + 32'd1;
                else cnt_malformed <= cnt_malformed + 32'd1;
            end
        end
        // 3. issue
        if (do_issue) begin
            rd_valid_q          <= 1'b1;
            slot_issued_q[wp_q] <= 1'b1;
            cur_ci_q            <= ci_next;
            if (ci_next == cur_end_q) busy_q <= 1'b0;
            wp_q                <= wp_q + 1'b1;
            cnt_reads           <= cnt_reads + 32'd1;
        end
        // 4. completion
        if (do_cpl) slot_has_q[cpl_tag] <= 1'b1;
        // 5. fetch, then cfg
        if (do_fetch) begin
            cnt_fetches <= cnt_fetches + 32'd1;
            if (f_in_range) begin
                cur_qpn_q  <= f_qpn[QP_AW-1:0];
                cur_kind_q <= f_kind;
                cur_ci_q   <= ring_ci_q[f_ring];
                cur_end_q  <= f_counter;
                busy_q     <= ring_ci_q[f_ring] != f_counter;
            end
        end
    end
end

assign m_dma_rd_tvalid = rd_valid_q;
assign m_dma_rd_tkeep  = {16{1'b1}};
assign m_dma_rd_tlast  = 1'b1;
assign m_wr_tvalid     = wr_valid_q;
assign m_wr_tkeep      = {WR_BYTES{1'b1}};
assign m_wr_tlast      = 1'b1;
assign m_err_tvalid    = err_valid_q;
assign m_err_tkeep     = {8{1'b1}};
assign m_err_tlast     = 1'b1;

assign stat_fetches       = cnt_fetches;
assign stat_reads         = cnt_reads;
assign stat_wrs           = cnt_wrs;
assign stat_err_owner     = cnt_owner;
assign stat_err_malformed = cnt_malformed;

// fields the block does not use
wire unused_inputs = &{1'b0, s_fetch_tkeep, s_fetch_tlast, s_cfg_tkeep, s_cfg_tlast,
                       s_dma_cpl_tkeep, s_dma_cpl_tlast, cpl_rec, fetch_rec, cfg_rec,
                       s_inl_n[30:15], w_size[5:4], ctrl, s_first};
`ifdef HCASIM_DEFECT_SKIP_OWNER_CHECK
wire unused_defect = &{1'b0, slot_owner_q[rp_q]};
`endif

endmodule

`resetall
