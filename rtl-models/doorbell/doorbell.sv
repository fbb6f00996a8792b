// doorbell: UAR doorbell front end of the HCA. Spec: hca/doorbell/README.md;
// interface: block.yaml; formats: hca/doorbell/formats.ts; TypeScript twin:
// hca/doorbell/doorbell-twin.ts (cycle-exact).
//
// A user process rings doorbells by 8-byte MMIO writes into its own 4 KiB UAR page
// (mthca/mlx4 style: send 0x10, receive 0x18, CQ 0x20 inside the page; see
// drivers/infiniband/hw/mthca/mthca_doorbell.h and include/linux/mlx4/doorbell.h).
// The block checks that the QP or CQ named belongs to the page it was rung on (the
// ownership tables, written by firmware on s_cfg), drops and reports anything else on
// m_err, coalesces doorbells per queue in a pending table, and issues the pending queues
// round-robin: QP work as WQE fetch requests on m_fetch, CQ updates on m_cq_arm.
//
// Pipeline (one doorbell per cycle):
//   cycle c    s_mmio handshake; the record is decoded into the check stage (s1_*)
//   cycle c+1  check stage: ownership lookup, reject / merge / allocate; it holds (and
//              s_mmio_tready drops) while it needs a free pending entry or m_err
//   cycle c+2  earliest grant of the new pending entry (one grant per cycle over both
//              outputs, round-robin from the entry after the last grant); an entry is
//              granted only when its output register is free at that cycle
//   cycle c+3  the fetch / CQ update is valid on its output (an error at c+2)
// A doorbell in the check stage never merges into the entry granted in the same cycle:
// that request has left, so the doorbell opens a new entry.
// An s_cfg write at cycle w is seen by checks from cycle w+1. An s_cfg read at cycle w
// (read bit set) answers the entry as the writes before w left it on m_cfg_rd, valid at
// w+1; s_cfg is ready unless an answer waits there.
//
// Records (byte 0 in tdata[7:0], big-endian fields; offsets from formats.ts):
//   s_mmio   16 B  offset[32] length[8] rsvd[24] word0[32] word1[32]
//   s_cfg     8 B  table[8] rsvd[6] read[1] valid[1] uar[16] rsvd[8] number[24]
//   m_cfg_rd  8 B  the same layout: table, read 1, the entry's valid and uar (0 unless
//                  valid; valid 0 beyond the table), number
//   m_fetch  12 B  qpn[24] kind[2] fence[1] opcode[5] counter[16] rsvd[2] size[6]
//                  doorbells[8] count[16] rsvd[16]
//   m_cq_arm  8 B  cqn[24] sn[2] rsvd[4] arm[2] ci[24] doorbells[8]
//   m_err     8 B  reason[4] kind[4] number[24] offset[32]
//   send word0: rsvd[8] counter[16] rsvd[2] fence[1] opcode[5]; word1: qpn[24] rsvd[2] size[6]
//   recv word0: rsvd[8] counter[16] rsvd[8];                     word1: qpn[24] nreq[8]
//   cq   word0: rsvd[2] sn[2] cmd[4] cqn[24];                     word1: rsvd[8] ci[24]
// Reject reasons, first match wins: 3 bad offset (page >= UAR_PAGES, no doorbell at the
// offset, length != 8), 2 invalid queue (number beyond the table or entry not valid),
// 1 owner (entry belongs to another UAR page), 4 bad CQ command (not 1, 2 or 4).

`resetall
`timescale 1ns / 1ps
`default_nettype none

module doorbell #(
    parameter integer QP_ENTRIES = 64,   // QP ownership-table entries (QPN 0..QP_ENTRIES-1), power of two
    parameter integer CQ_ENTRIES = 64,   // CQ ownership-table entries, power of two
    parameter integer UAR_PAGES  = 64,   // UAR pages in the BAR, power of two
    parameter integer PENDING    = 16    // pending-table entries (queues awaiting issue), power of two
) (
    input  wire         clk,
    input  wire         rst_n,

    input  wire [127:0] s_mmio_tdata,
    input  wire [15:0]  s_mmio_tkeep,
    input  wire         s_mmio_tvalid,
    output wire         s_mmio_tready,
    input  wire         s_mmio_tlast,

    input  wire [63:0]  s_cfg_tdata,
    input  wire [7:0]   s_cfg_tkeep,
    input  wire         s_cfg_tvalid,
    output wire         s_cfg_tready,
    input  wire         s_cfg_tlast,

    output wire [95:0]  m_fetch_tdata,
    output wire [11:0]  m_fetch_tkeep,
    output wire         m_fetch_tvalid,
    input  wire         m_fetch_tready,
    output wire         m_fetch_tlast,

    output wire [63:0]  m_cq_arm_tdata,
    output wire [7:0]   m_cq_arm_tkeep,
    output wire         m_cq_arm_tvalid,
    input  wire         m_cq_arm_tready,
    output wire         m_cq_arm_tlast,

    output wire [63:0]  m_err_tdata,
    output wire [7:0]   m_err_tkeep,
    output wire         m_err_tvalid,
    input  wire         m_err_tready,
    output wire         m_err_tlast,

    output wire [63:0]  m_cfg_rd_tdata,
    output wire [7:0]   m_cfg_rd_tkeep,
    output wire         m_cfg_rd_tvalid,
    input  wire         m_cfg_rd_tready,
    output wire         m_cfg_rd_tlast,

    output wire [31:0]  stat_doorbells,
    output wire [31:0]  stat_coalesced,
    output wire [31:0]  stat_rejected_owner,
    output wire [31:0]  stat_rejected_other,
    output wire [31:0]  stat_fetches
);

localparam integer QP_AW  = $clog2(QP_ENTRIES);
localparam integer CQ_AW  = $clog2(CQ_ENTRIES);
localparam integer UAR_W  = $clog2(UAR_PAGES);
localparam integer P_AW   = $clog2(PENDING);
localparam integer NUM_W  = QP_AW > CQ_AW ? QP_AW : CQ_AW;  // stored queue-number bits

localparam [1:0] KIND_SEND = 2'd0, KIND_RECV = 2'd1, KIND_CQ = 2'd2, KIND_UNKNOWN = 2'd3;
localparam [3:0] R_NONE = 4'd0, R_OWNER = 4'd1, R_INVALID = 4'd2, R_OFFSET = 4'd3, R_CMD = 4'd4;

generate
    if ((1 << QP_AW) != QP_ENTRIES || QP_AW < 2 || QP_AW > 16) begin : g_bad_qp_entries
        $error("doorbell: QP_ENTRIES = %0d is not a power of two, 4..65536", QP_ENTRIES);
    end
    if ((1 << CQ_AW) != CQ_ENTRIES || CQ_AW < 2 || CQ_AW > 16) begin : g_bad_cq_entries
        $error("doorbell: CQ_ENTRIES = %0d is not a power of two, 4..65536", CQ_ENTRIES);
    end
    if ((1 << UAR_W) != UAR_PAGES || UAR_W < 1 || UAR_W > 16) begin : g_bad_uar_pages
        $error("doorbell: UAR_PAGES = %0d is not a power of two, 2..65536", UAR_PAGES);
    end
    if ((1 << P_AW) != PENDING || P_AW < 1 || P_AW > 6) begin : g_bad_pending
        $error("doorbell: PENDING = %0d is not a power of two, 2..64", PENDING);
    end
endgenerate

// ---- byte order: records are big-endian, byte 0 in lane 0 ------------------------------
wire [127:0] mmio_rec;
wire [63:0]  cfg_rec;
reg  [95:0]  fetch_rec_q;
reg  [63:0]  cq_rec_q;
reg  [63:0]  err_rec_q;
reg  [63:0]  cfg_rd_rec_q;
genvar gi;
generate
    for (gi = 0; gi < 16; gi = gi + 1) begin : g_mmio_bytes
        assign mmio_rec[127-8*gi -: 8] = s_mmio_tdata[8*gi +: 8];
    end
    for (gi = 0; gi < 8; gi = gi + 1) begin : g_8_bytes
        assign cfg_rec[63-8*gi -: 8]       = s_cfg_tdata[8*gi +: 8];
        assign m_cq_arm_tdata[8*gi +: 8]   = cq_rec_q[63-8*gi -: 8];
        assign m_err_tdata[8*gi +: 8]      = err_rec_q[63-8*gi -: 8];
        assign m_cfg_rd_tdata[8*gi +: 8]   = cfg_rd_rec_q[63-8*gi -: 8];
    end
    for (gi = 0; gi < 12; gi = gi + 1) begin : g_fetch_bytes
        assign m_fetch_tdata[8*gi +: 8] = fetch_rec_q[95-8*gi -: 8];
    end
endgenerate

// ---- decode (cycle c: straight from s_mmio) --------------------------------------------
wire [31:0] in_offset = mmio_rec[127:96];
wire [7:0]  in_length = mmio_rec[95:88];
wire [31:0] in_w0     = mmio_rec[63:32];
wire [31:0] in_w1     = mmio_rec[31:0];
wire [11:0] in_page   = in_offset[11:0];
wire [1:0]  in_kind_raw = (in_page == 12'h010) ? KIND_SEND :
                          (in_page == 12'h018) ? KIND_RECV :
                          (in_page == 12'h020) ? KIND_CQ : KIND_UNKNOWN;
wire        in_bad = (in_offset[31:12+UAR_W] != 0) || (in_kind_raw == KIND_UNKNOWN) || (in_length != 8'd8);
wire [1:0]  in_kind = in_bad ? KIND_UNKNOWN : in_kind_raw;
wire        in_is_cq = in_kind == KIND_CQ;
wire [23:0] in_number = in_bad ? 24'd0 : in_is_cq ? in_w0[23:0] : in_w1[31:8];
wire [23:0] in_counter = in_bad ? 24'd0 : in_is_cq ? in_w1[23:0] : {8'd0, in_w0[23:8]};

// ---- check stage registers -------------------------------------------------------------
reg         s1_valid;
reg  [31:0] s1_offset;
reg  [1:0]  s1_kind;
reg         s1_bad;
reg  [23:0] s1_number;
reg  [23:0] s1_counter;
reg         s1_fence;
reg  [4:0]  s1_opcode;
reg  [5:0]  s1_size;
reg  [7:0]  s1_nreq;
reg  [1:0]  s1_sn;
reg  [3:0]  s1_cmd;

// ---- ownership tables ------------------------------------------------------------------
reg [QP_ENTRIES-1:0] qp_valid_q;
reg [UAR_W-1:0]      qp_uar_q [QP_ENTRIES];
reg [CQ_ENTRIES-1:0] cq_valid_q;
reg [UAR_W-1:0]      cq_uar_q [CQ_ENTRIES];

wire [7:0]  cfg_table  = cfg_rec[63:56];
wire        cfg_read   = cfg_rec[49];
wire        cfg_valid  = cfg_rec[48];
wire [15:0] cfg_uar    = cfg_rec[47:32];
wire [23:0] cfg_number = cfg_rec[23:0];
wire        cfg_uar_ok = cfg_uar[15:UAR_W] == 0;
reg         cfg_rd_valid_q;
assign s_cfg_tready = !cfg_rd_valid_q || m_cfg_rd_tready;
wire        cfg_hs  = s_cfg_tvalid && s_cfg_tready;
wire        cfg_qp_in = cfg_table == 8'd0 && cfg_number[23:QP_AW] == 0;
wire        cfg_cq_in = cfg_table == 8'd1 && cfg_number[23:CQ_AW] == 0;
wire        cfg_qp = cfg_hs && !cfg_read && cfg_qp_in;
wire        cfg_cq = cfg_hs && !cfg_read && cfg_cq_in;
wire        cfg_rd = cfg_hs && cfg_read;

always @(posedge clk) begin
    if (cfg_qp) qp_uar_q[cfg_number[QP_AW-1:0]] <= cfg_uar[UAR_W-1:0];
    if (cfg_cq) cq_uar_q[cfg_number[CQ_AW-1:0]] <= cfg_uar[UAR_W-1:0];
    if (!rst_n) begin
        qp_valid_q <= '0;
        cq_valid_q <= '0;
    end else begin
        if (cfg_qp) qp_valid_q[cfg_number[QP_AW-1:0]] <= cfg_valid && cfg_uar_ok;
        if (cfg_cq) cq_valid_q[cfg_number[CQ_AW-1:0]] <= cfg_valid && cfg_uar_ok;
    end
end

// ---- ownership read-back: the entry as the writes before this cycle left it -------------
wire             rd_valid = cfg_qp_in ? qp_valid_q[cfg_number[QP_AW-1:0]] :
                            cfg_cq_in ? cq_valid_q[cfg_number[CQ_AW-1:0]] : 1'b0;
wire [UAR_W-1:0] rd_uar   = !rd_valid ? '0 :
                            cfg_qp_in ? qp_uar_q[cfg_number[QP_AW-1:0]] : cq_uar_q[cfg_number[CQ_AW-1:0]];
always @(posedge clk) begin
    if (cfg_rd) cfg_rd_rec_q <= {cfg_table, 6'd0, 1'b1, rd_valid, {(16-UAR_W){1'b0}}, rd_uar, 8'd0, cfg_number};
    if (!rst_n) cfg_rd_valid_q <= 1'b0;
    else if (cfg_rd) cfg_rd_valid_q <= 1'b1;
    else if (m_cfg_rd_tready) cfg_rd_valid_q <= 1'b0;
end

// ---- the check ---------------------------------------------------------------------------
wire             s1_is_cq   = s1_kind == KIND_CQ;
wire [QP_AW-1:0] s1_qp_idx  = s1_number[QP_AW-1:0];
wire [CQ_AW-1:0] s1_cq_idx  = s1_number[CQ_AW-1:0];
wire             s1_in_range = s1_is_cq ? (s1_number[23:CQ_AW] == 0) : (s1_number[23:QP_AW] == 0);
wire             s1_tbl_valid = s1_is_cq ? cq_valid_q[s1_cq_idx] : qp_valid_q[s1_qp_idx];
wire [UAR_W-1:0] s1_tbl_uar   = s1_is_cq ? cq_uar_q[s1_cq_idx] : qp_uar_q[s1_qp_idx];
wire             s1_cmd_ok  = s1_cmd == 4'd1 || s1_cmd == 4'd2 || s1_cmd == 4'd4;
wire [3:0]       s1_reason  = s1_bad ? R_OFFSET :
                              (!s1_in_range || !s1_tbl_valid) ? R_INVALID :
`ifdef HCASIM_DEFECT_SKIP_OWNER_CHECK
                              // defect: the ownership check is left out
`else
                              (s1_tbl_uar != s1_offset[12 +: UAR_W]) ? R_OWNER :
`endif
                              (s1_is_cq && !s1_cmd_ok) ? R_CMD : R_NONE;
wire             s1_reject  = s1_reason != R_NONE;
wire [NUM_W-1:0] s1_num     = s1_number[NUM_W-1:0];
wire [1:0]       s1_arm     = s1_cmd == 4'd2 ? 2'd2 : s1_cmd == 4'd1 ? 2'd1 : 2'd0;

// ---- pending table ---------------------------------------------------------------------
reg  [PENDING-1:0] e_valid;
reg  [PENDING-1:0] e_is_cq;
reg  [1:0]         e_kind      [PENDING];
reg  [NUM_W-1:0]   e_number    [PENDING];
reg  [23:0]        e_counter   [PENDING];
reg                e_fence     [PENDING];
reg  [4:0]         e_opcode    [PENDING];
reg  [5:0]         e_size      [PENDING];
reg  [7:0]         e_doorbells [PENDING];
reg  [15:0]        e_count     [PENDING];
reg  [1:0]         e_sn        [PENDING];
reg  [1:0]         e_arm       [PENDING];
reg  [P_AW-1:0]    ptr;

reg  fetch_valid_q, cq_valid_out_q, err_valid_q;
wire fetch_free = !fetch_valid_q || m_fetch_tready;
wire cq_free    = !cq_valid_out_q || m_cq_arm_tready;
wire err_free   = !err_valid_q || m_err_tready;

// round-robin grant: the first requesting entry at or after ptr
wire [PENDING-1:0] req      = e_valid & ((e_is_cq & {PENDING{cq_free}}) | (~e_is_cq & {PENDING{fetch_free}}));
wire [PENDING-1:0] req_hi   = req & ({PENDING{1'b1}} << ptr);
wire [PENDING-1:0] req_sel  = (req_hi != 0) ? req_hi : req;
wire [PENDING-1:0] grant_oh = req_sel & (~req_sel + 1'b1);
wire               grant    = req != 0;

// merge target (never the entry granted now) and lowest free entry
reg  [PENDING-1:0] match_oh;
wire [PENDING-1:0] free_vec = ~e_valid;
wire [PENDING-1:0] free_oh  = free_vec & (~free_vec + 1'b1);
wire               match    = match_oh != 0;
wire               has_free = free_vec != 0;
integer i;
always @* begin
    for (i = 0; i < PENDING; i = i + 1) begin
        match_oh[i] = e_valid[i] && !grant_oh[i] && e_kind[i] == s1_kind && e_number[i] == s1_num;
    end
end

reg [P_AW-1:0] grant_idx, match_idx, free_idx;
always @* begin
    grant_idx = '0;
    match_idx = '0;
    free_idx  = '0;
    for (i = 0; i < PENDING; i = i + 1) begin
        if (grant_oh[i]) grant_idx = grant_idx | i[P_AW-1:0];
        if (match_oh[i]) match_idx = match_idx | i[P_AW-1:0];
        if (free_oh[i])  free_idx  = free_idx  | i[P_AW-1:0];
    end
end

wire s1_advance = s1_valid && (s1_reject ? err_free : (match || has_free));
assign s_mmio_tready = !s1_valid || s1_advance;
wire mmio_hs = s_mmio_tvalid && s_mmio_tready;

// ---- merge arithmetic ------------------------------------------------------------------
wire [7:0]  m_db     = e_doorbells[match_idx];
wire [16:0] m_sum    = {1'b0, e_count[match_idx]} + {9'd0, s1_nreq};
wire [1:0]  m_arm    = e_arm[match_idx];

// ---- counters --------------------------------------------------------------------------
reg [31:0] cnt_doorbells, cnt_coalesced, cnt_owner, cnt_other, cnt_fetches;

// ---- sequential ------------------------------------------------------------------------
always @(posedge clk) begin
    // check stage
    if (s_mmio_tready) begin
        s1_valid <= s_mmio_tvalid;
        if (s_mmio_tvalid) begin
            s1_offset  <= in_offset;
            s1_kind    <= in_kind;
            s1_bad     <= in_bad;
            s1_number  <= in_number;
            s1_counter <= in_counter;
            s1_fence   <= in_w0[5];
            s1_opcode  <= in_w0[4:0];
            s1_size    <= in_w1[5:0];
            s1_nreq    <= in_w1[7:0];
            s1_sn      <= in_w0[29:28];
            s1_cmd     <= in_w0[27:24];
        end
    end

    // outputs drain
    if (fetch_valid_q && m_fetch_tready) fetch_valid_q <= 1'b0;
    if (cq_valid_out_q && m_cq_arm_tready) cq_valid_out_q <= 1'b0;
    if (err_valid_q && m_err_tready) err_valid_q <= 1'b0;

    // grant: the entry leaves for its output register
    if (grant) begin
        e_valid[grant_idx] <= 1'b0;
        ptr <= grant_idx + 1'b1;
        if (e_is_cq[grant_idx]) begin
            cq_valid_out_q <= 1'b1;
            cq_rec_q <= {{(24-NUM_W){1'b0}}, e_number[grant_idx], e_sn[grant_idx], 4'd0, e_arm[grant_idx],
                         e_counter[grant_idx], e_doorbells[grant_idx]};
        end else begin
            fetch_valid_q <= 1'b1;
            cnt_fetches <= cnt_fetches + 1'b1;
            fetch_rec_q <= {{(24-NUM_W){1'b0}}, e_number[grant_idx], e_kind[grant_idx], e_fence[grant_idx],
                            e_opcode[grant_idx], e_counter[grant_idx][15:0], 2'd0, e_size[grant_idx],
                            e_doorbells[grant_idx], e_count[grant_idx], 16'd0};
        end
    end

    // the check stage moves on: reject, merge or allocate
    if (s1_advance) begin
        cnt_doorbells <= cnt_doorbells + 1'b1;
        if (s1_reject) begin
            err_valid_q <= 1'b1;
            err_rec_q   <= {s1_reason, 2'd0, s1_kind, s1_number, s1_offset};
            if (s1_reason == R_OWNER) cnt_owner <= cnt_owner + 1'b1;
            else cnt_other <= cnt_other + 1'b1;
        end else if (match) begin
            cnt_coalesced <= cnt_coalesced + 1'b1;
            e_counter[match_idx]   <= s1_counter;
            e_doorbells[match_idx] <= (m_db == 8'hff) ? 8'hff : m_db + 1'b1;
            if (s1_kind == KIND_RECV) e_count[match_idx] <= m_sum[16] ? 16'hffff : m_sum[15:0];
            if (s1_is_cq) begin
                e_sn[match_idx]  <= s1_sn;
                e_arm[match_idx] <= (s1_arm > m_arm) ? s1_arm : m_arm;
            end
        end else begin
            e_valid[free_idx]     <= 1'b1;
            e_is_cq[free_idx]     <= s1_is_cq;
            e_kind[free_idx]      <= s1_kind;
            e_number[free_idx]    <= s1_num;
            e_counter[free_idx]   <= s1_counter;
            e_fence[free_idx]     <= s1_kind == KIND_SEND && s1_fence;
            e_opcode[free_idx]    <= s1_kind == KIND_SEND ? s1_opcode : 5'd0;
            e_size[free_idx]      <= s1_kind == KIND_SEND ? s1_size : 6'd0;
            e_count[free_idx]     <= s1_kind == KIND_RECV ? {8'd0, s1_nreq} : 16'd0;
            e_doorbells[free_idx] <= 8'd1;
            e_sn[free_idx]        <= s1_is_cq ? s1_sn : 2'd0;
            e_arm[free_idx]       <= s1_is_cq ? s1_arm : 2'd0;
        end
    end

    if (!rst_n) begin
        s1_valid       <= 1'b0;
        e_valid        <= '0;
        ptr            <= '0;
        fetch_valid_q  <= 1'b0;
        cq_valid_out_q <= 1'b0;
        err_valid_q    <= 1'b0;
        cnt_doorbells  <= '0;
        cnt_coalesced  <= '0;
        cnt_owner      <= '0;
        cnt_other      <= '0;
        cnt_fetches    <= '0;
    end
end

assign m_fetch_tvalid  = fetch_valid_q;
assign m_fetch_tkeep   = {12{1'b1}};
assign m_fetch_tlast   = 1'b1;
assign m_cq_arm_tvalid = cq_valid_out_q;
assign m_cq_arm_tkeep  = {8{1'b1}};
assign m_cq_arm_tlast  = 1'b1;
assign m_err_tvalid    = err_valid_q;
assign m_err_tkeep     = {8{1'b1}};
assign m_err_tlast     = 1'b1;
assign m_cfg_rd_tvalid = cfg_rd_valid_q;
assign m_cfg_rd_tkeep  = {8{1'b1}};
assign m_cfg_rd_tlast  = 1'b1;

assign stat_doorbells      = cnt_doorbells;
assign stat_coalesced      = cnt_coalesced;
assign stat_rejected_owner = cnt_owner;
assign stat_rejected_other = cnt_other;
assign stat_fetches        = cnt_fetches;

// reserved fields and sideband this block does not need
wire unused_inputs = &{1'b0, s_mmio_tkeep, s_mmio_tlast, s_cfg_tkeep, s_cfg_tlast, mmio_rec[87:64],
                       cfg_rec[55:50], cfg_rec[31:24], in_w0[31:30], in_w1[7:6], s1_number[23:NUM_W],
                       mmio_hs, s1_offset[31:12+UAR_W], s1_offset[11:0], s1_tbl_uar};

endmodule

`resetall
