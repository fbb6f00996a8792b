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
// Records (byte 0 in tdata[7:0], big-endian fields; offsets from the layouts):
//   s_fetch    12 B  qpn[24] kind[2] fence[1] opcode[5] counter[16] ... (rest ignored)
//   s_cfg      16 B  qpn[24] kind[1] rsvd[3] logSize[4] ci[16] rsvd[16] base[64]
//   m_dma_rd   16 B  tag[8] rsvd[8] length[16] rsvd[32] addr[64]
//   s_dma_cpl 136 B  tag[8] rsvd[56] data[128 bytes]
//   m_wr      176 B  qpn[24] kind[8] index[16] opcode[8] flags[8] nsge[8] rsvd[8]
//                    inlineBytes[16] imm[32] raddr[64] rkey[32] rsvd[32] swapAdd[64]
//                    compare[64] payload[128 bytes]
//   m_err       8 B  reason[4] kind[4] qpn[24] index[16] opcode[8] rsvd[8]
//   WQE ctrl   16 B  owner[1] rsvd[26] opcode[5] vlan[16] insVlan[8] rsvd[1] fence[1]
//                    size[6] srcrb[24] rsvd[4] cqUpdate[2] solicited[1] loopback[1] imm[32]
//   raddr seg: raddr[64] rkey[32] rsvd[32]; atomic seg: swapAdd[64] compare[64];
//   data seg:  byteCount[32] lkey[32] addr[64]; inline seg header: 1[1] byteCount[31]

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

    output wire [1407:0] m_wr_tdata,
    output wire [175:0]  m_wr_tkeep,
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

localparam integer QP_AW = $clog2(QP_ENTRIES);
localparam integer RING_AW = QP_AW + 1;          // {qpn, kind}
localparam integer RINGS = 2 * QP_ENTRIES;
localparam integer TW = $clog2(TAGS);

localparam [3:0] E_OWNER = 4'd1, E_OPCODE = 4'd2, E_SIZE = 4'd3, E_SEGMENT = 4'd4;
localparam [7:0] F_SIGNALLED = 8'd1, F_SOLICITED = 8'd2, F_FENCE = 8'd4, F_INLINE = 8'd8;
localparam [31:0] INVALID_LKEY = 32'h0000_0100;

generate
    if ((1 << QP_AW) != QP_ENTRIES || QP_AW < 2 || QP_AW > 16) begin : g_bad_qp_entries
        $error("wqe_fetch: QP_ENTRIES = %0d is not a power of two, 4..65536", QP_ENTRIES);
    end
    if ((1 << TW) != TAGS || TW < 1 || TW > 8) begin : g_bad_tags
        $error("wqe_fetch: TAGS = %0d is not a power of two, 2..256", TAGS);
    end
endgenerate

// ---- byte order: records are big-endian, byte 0 in lane 0 ------------------------------
wire [95:0]   fetch_rec;
wire [127:0]  cfg_rec;
wire [1023:0] cpl_wqe;            // the completion's 128 WQE bytes, byte 0 at the MSB
reg  [127:0]  rd_rec_q;
reg  [1407:0] wr_rec_q;
reg  [63:0]   err_rec_q;
genvar gi;
generate
    for (gi = 0; gi < 12; gi = gi + 1) begin : g_fetch_bytes
        assign fetch_rec[95-8*gi -: 8] = s_fetch_tdata[8*gi +: 8];
    end
    for (gi = 0; gi < 16; gi = gi + 1) begin : g_16_bytes
        assign cfg_rec[127-8*gi -: 8]     = s_cfg_tdata[8*gi +: 8];
        assign m_dma_rd_tdata[8*gi +: 8]  = rd_rec_q[127-8*gi -: 8];
    end
    for (gi = 0; gi < 128; gi = gi + 1) begin : g_cpl_bytes
        assign cpl_wqe[1023-8*gi -: 8] = s_dma_cpl_tdata[64+8*gi +: 8];
    end
    for (gi = 0; gi < 176; gi = gi + 1) begin : g_wr_bytes
        assign m_wr_tdata[8*gi +: 8] = wr_rec_q[1407-8*gi -: 8];
    end
    for (gi = 0; gi < 8; gi = gi + 1) begin : g_err_bytes
        assign m_err_tdata[8*gi +: 8] = err_rec_q[63-8*gi -: 8];
    end
endgenerate

// ---- state -----------------------------------------------------------------------------
reg  [63:0]        ring_base_q [RINGS];
reg  [3:0]         ring_log_q  [RINGS];
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
reg  [63:0]        cur_base_q;
reg  [3:0]         cur_log_q;

reg                rd_valid_q, wr_valid_q, err_valid_q;
reg  [31:0]        cnt_fetches, cnt_reads, cnt_wrs, cnt_owner, cnt_malformed;

// ---- decisions (state at the start of the cycle) ---------------------------------------
wire out_stall_retire = (wr_valid_q && !m_wr_tready) || (err_valid_q && !m_err_tready);
wire out_stall_issue  = rd_valid_q && !m_dma_rd_tready;
wire do_retire = slot_issued_q[rp_q] && slot_has_q[rp_q] && !out_stall_retire;
wire do_issue  = busy_q && !slot_issued_q[wp_q] && !out_stall_issue;

wire [TW-1:0] cpl_tag = s_dma_cpl_tdata[TW-1:0];
assign s_dma_cpl_tready = !slot_has_q[cpl_tag];
wire do_cpl = s_dma_cpl_tvalid && s_dma_cpl_tready;

assign s_fetch_tready = !busy_q;
wire do_fetch = s_fetch_tvalid && !busy_q;
wire [23:0]        f_qpn     = fetch_rec[95:72];
wire               f_kind    = fetch_rec[70];
wire [15:0]        f_counter = fetch_rec[63:48];
wire               f_in_range = f_qpn[23:QP_AW] == 0;
wire [RING_AW-1:0] f_ring    = {f_qpn[QP_AW-1:0], f_kind};

assign s_cfg_tready = 1'b1;
wire [23:0]        c_qpn   = cfg_rec[127:104];
wire               c_kind  = cfg_rec[103];
wire [3:0]         c_log   = cfg_rec[99:96];
wire [15:0]        c_ci    = cfg_rec[95:80];
wire [63:0]        c_base  = cfg_rec[63:0];
wire               do_cfg  = s_cfg_tvalid && c_qpn[23:QP_AW] == 0;
wire [RING_AW-1:0] c_ring  = {c_qpn[QP_AW-1:0], c_kind};

// ---- issue -----------------------------------------------------------------------------
wire [15:0]        ci_mask  = ~(16'hffff << cur_log_q);
wire [15:0]        ci_slot  = cur_ci_q & ci_mask;
wire [63:0]        rd_addr  = cur_base_q + {41'd0, ci_slot, 7'd0};
wire [15:0]        ci_next  = cur_ci_q + 16'd1;
wire               ci_owner = cur_ci_q[cur_log_q];
wire [RING_AW-1:0] cur_ring = {cur_qpn_q, cur_kind_q};
wire [7:0]         wp_tag   = {{(8-TW){1'b0}}, wp_q};

// ---- parse of slot[rp] -------------------------------------------------------------------
wire [1023:0] d       = slot_data_q[rp_q];
wire          p_kind  = slot_kind_q[rp_q];
wire [127:0]  seg [8];
generate
    for (gi = 0; gi < 8; gi = gi + 1) begin : g_segs
        assign seg[gi] = d[1023-128*gi -: 128];
    end
endgenerate
wire [127:0] ctrl     = seg[0];
wire         w_owner  = ctrl[127];
wire [4:0]   w_opcode = ctrl[100:96];
wire         w_fence  = ctrl[70];
wire [5:0]   w_size   = ctrl[69:64];
wire [1:0]   w_cqupd  = ctrl[35:34];
wire         w_solic  = ctrl[33];
wire [31:0]  w_imm    = ctrl[31:0];

`ifdef HCASIM_DEFECT_SKIP_OWNER_CHECK
wire         exp_owner = w_owner;                 // DEFECT: the owner bit is not checked
`else
wire         exp_owner = slot_owner_q[rp_q];
`endif

// opcode table: fixed units (ctrl + raddr + atomic), 0 = not an opcode
reg  [1:0] w_fixed;
reg        w_has_raddr, w_has_atomic;
always @(*) begin
    w_has_raddr  = 1'b0;
    w_has_atomic = 1'b0;
    case (w_opcode)
        5'h00, 5'h0a, 5'h0b: w_fixed = 2'd1;                          // NOP, SEND, SEND_IMM
        5'h08, 5'h09, 5'h10: begin w_fixed = 2'd2; w_has_raddr = 1'b1; end  // RDMA_WRITE(_IMM), RDMA_READ
        5'h11, 5'h12:        begin w_fixed = 2'd3; w_has_raddr = 1'b1; w_has_atomic = 1'b1; end // ATOMIC_CS/FA
        default:             w_fixed = 2'd0;
    endcase
end

// segment bits
wire [7:0] seg_inl;      // bit 31 of the segment's first word
wire [7:0] seg_lkinv;    // lkey == INVALID_LKEY (receive)
generate
    for (gi = 0; gi < 8; gi = gi + 1) begin : g_seg_bits
        assign seg_inl[gi]   = seg[gi][127];
        assign seg_lkinv[gi] = seg[gi][95:64] == INVALID_LKEY;
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
wire [3:0]   s_fixed   = {2'b0, w_fixed};
wire [3:0]   s_size4   = w_size[3:0];
wire         s_size_bad = w_size < {4'd0, w_fixed} || w_size > 6'd8;
wire [3:0]   s_body    = s_size4 - s_fixed;                  // segments after the fixed ones
wire [127:0] s_first   = seg[{1'b0, w_fixed}];                     // the first body segment
wire         s_inline  = s_body != 4'd0 && s_first[127];
wire [30:0]  s_inl_n   = s_first[126:96];
wire [30:0]  s_inl_max = {23'd0, s_body, 4'd0} - 31'd4;    // bytes after the inline header
reg          s_seg_bad;
always @(*) begin
    s_seg_bad = 1'b0;
    for (k = 0; k < 8; k = k + 1)
        if (k[3:0] >= s_fixed && k[3:0] < s_size4 && seg_inl[k]) s_seg_bad = 1'b1;
end

// verdict
wire [3:0] p_reason =
    p_kind ? (r_bad ? E_SEGMENT : 4'd0) :
    (w_owner != exp_owner)                          ? E_OWNER   :
    (w_fixed == 2'd0)                               ? E_OPCODE  :
    s_size_bad                                      ? E_SIZE    :
    (s_inline ? (s_inl_n > s_inl_max) : s_seg_bad)  ? E_SEGMENT : 4'd0;
wire [7:0] p_opcode = p_kind ? 8'd0 : {3'd0, w_opcode};

// payload: the WQE bytes from `p_shift` on, the first `p_len` of them (rest zero)
wire [7:0]  p_shift = p_kind ? 8'd0 : {2'd0, w_fixed, 4'd0} + (s_inline ? 8'd4 : 8'd0);
wire [7:0]  p_len   = p_kind ? {r_nsge, 4'd0} : s_inline ? s_inl_n[7:0] : {s_body, 4'd0};
wire [1023:0] p_shifted = d << {p_shift, 3'b0};
wire [1023:0] p_mask    = ~({1024{1'b1}} >> {p_len, 3'b0});
wire [1023:0] p_payload = p_shifted & p_mask;

wire [7:0]  p_flags = p_kind ? 8'd0 :
                      ((w_cqupd != 2'd0) ? F_SIGNALLED : 8'd0) |
                      (w_solic ? F_SOLICITED : 8'd0) |
                      (w_fence ? F_FENCE : 8'd0) |
                      (s_inline ? F_INLINE : 8'd0);
wire [7:0]  p_nsge   = p_kind ? {4'd0, r_nsge} : s_inline ? 8'd0 : {4'd0, s_body};
wire [15:0] p_inl    = (!p_kind && s_inline) ? {1'b0, s_inl_n[14:0]} : 16'd0;
wire [31:0] p_imm    = p_kind ? 32'd0 : w_imm;
wire        p_raddr_on  = !p_kind && w_has_raddr;
wire        p_atomic_on = !p_kind && w_has_atomic;
wire [63:0] p_raddr  = p_raddr_on  ? seg[1][127:64] : 64'd0;
wire [31:0] p_rkey   = p_raddr_on  ? seg[1][63:32]  : 32'd0;
wire [63:0] p_swap   = p_atomic_on ? seg[2][127:64] : 64'd0;
wire [63:0] p_cmp    = p_atomic_on ? seg[2][63:0]   : 64'd0;

wire [23:0] p_qpn   = {{(24-QP_AW){1'b0}}, slot_qpn_q[rp_q]};
wire [15:0] p_index = slot_index_q[rp_q];

// ---- sequential --------------------------------------------------------------------------
// ring table: one entry per {qpn, kind}; the issue writes ci back, s_cfg (applied last) wins
generate
    for (gi = 0; gi < RINGS; gi = gi + 1) begin : g_rings
        always @(posedge clk) begin
            if (!rst_n) begin
                ring_base_q[gi] <= 64'd0;
                ring_log_q[gi]  <= 4'd0;
                ring_ci_q[gi]   <= 16'd0;
            end else if (do_cfg && c_ring == gi[RING_AW-1:0]) begin
                ring_base_q[gi] <= c_base;
                ring_log_q[gi]  <= c_log;
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
        wr_rec_q  <= {p_qpn, 7'd0, p_kind, p_index, p_opcode, p_flags, p_nsge, 8'd0, p_inl, p_imm,
                      p_raddr, p_rkey, 32'd0, p_swap, p_cmp, p_payload};
        err_rec_q <= {p_reason, 3'd0, p_kind, p_qpn, p_index, p_opcode, 8'd0};
    end
    if (do_issue) begin
        rd_rec_q              <= {wp_tag, 8'd0, 16'd128, 32'd0, rd_addr};
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
        cur_base_q    <= 64'd0;
        cur_log_q     <= 4'd0;
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
                if (p_reason == E_OWNER) cnt_owner <= cnt_owner + 32'd1;
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
                cur_base_q <= ring_base_q[f_ring];
                cur_log_q  <= ring_log_q[f_ring];
                busy_q     <= ring_ci_q[f_ring] != f_counter;
            end
        end
    end
end

assign m_dma_rd_tvalid = rd_valid_q;
assign m_dma_rd_tkeep  = {16{1'b1}};
assign m_dma_rd_tlast  = 1'b1;
assign m_wr_tvalid     = wr_valid_q;
assign m_wr_tkeep      = {176{1'b1}};
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
                       s_dma_cpl_tkeep, s_dma_cpl_tlast, s_dma_cpl_tdata[63:TW],
                       fetch_rec[71], fetch_rec[69:64], fetch_rec[47:0], cfg_rec[102:100], cfg_rec[79:64],
                       s_inl_n[30:15], w_size[5:4], ctrl[126:101], ctrl[95:71], ctrl[63:36], ctrl[32],
                       s_first[95:0]};
`ifdef HCASIM_DEFECT_SKIP_OWNER_CHECK
wire unused_defect = &{1'b0, slot_owner_q[rp_q]};
`endif

endmodule

`resetall
