// gateway: IB↔Ethernet gateway (IPoIB over UD), forwarding in hardware.
// Spec: hca/gateway/README.md; interface: block.yaml; TypeScript twin: hca/gateway/.
//
// The two directions are independent pipelines; each keeps its own copy of the
// forwarding table (one lookup port per direction, as an FPGA would replicate a small
// table rather than arbitrate one), written from the same configuration stream.
// The shared counters are the sums of the two directions' counters.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module gateway #(
    parameter integer ETH_PORTS     = 6,          // Ethernet ports, 1..8
    parameter integer DATA_BYTES    = 8,          // datapath width [bytes/beat]: 8 or 64
    parameter integer TABLE_ENTRIES = 64,         // forwarding table entries
    parameter integer FIFO_BEATS    = 512,        // per-port frame FIFO depth [beats]
    parameter integer MTU_BYTES     = 2048,       // IB path MTU [bytes of IB payload]
    parameter [15:0]  GW_LID        = 16'h0001,   // the gateway's LID
    parameter [23:0]  GW_QPN        = 24'h000048  // the gateway's UD QPN
) (
    input  wire                              clk,
    input  wire                              rst_n,

    input  wire [ETH_PORTS*DATA_BYTES*8-1:0] s_eth_axis_tdata,
    input  wire [ETH_PORTS*DATA_BYTES-1:0]   s_eth_axis_tkeep,
    input  wire [ETH_PORTS-1:0]              s_eth_axis_tvalid,
    output wire [ETH_PORTS-1:0]              s_eth_axis_tready,
    input  wire [ETH_PORTS-1:0]              s_eth_axis_tlast,
    input  wire [ETH_PORTS-1:0]              s_eth_axis_tuser,     // fcs_bad

    input  wire [DATA_BYTES*8-1:0]           s_ib_axis_tdata,
    input  wire [DATA_BYTES-1:0]             s_ib_axis_tkeep,
    input  wire                              s_ib_axis_tvalid,
    output wire                              s_ib_axis_tready,
    input  wire                              s_ib_axis_tlast,

    input  wire [127:0]                      s_cfg_axis_tdata,
    input  wire [15:0]                       s_cfg_axis_tkeep,
    input  wire                              s_cfg_axis_tvalid,
    output wire                              s_cfg_axis_tready,
    input  wire                              s_cfg_axis_tlast,

    output wire [ETH_PORTS*DATA_BYTES*8-1:0] m_eth_axis_tdata,
    output wire [ETH_PORTS*DATA_BYTES-1:0]   m_eth_axis_tkeep,
    output wire [ETH_PORTS-1:0]              m_eth_axis_tvalid,
    input  wire [ETH_PORTS-1:0]              m_eth_axis_tready,
    output wire [ETH_PORTS-1:0]              m_eth_axis_tlast,

    output wire [DATA_BYTES*8-1:0]           m_ib_axis_tdata,
    output wire [DATA_BYTES-1:0]             m_ib_axis_tkeep,
    output wire                              m_ib_axis_tvalid,
    input  wire                              m_ib_axis_tready,
    output wire                              m_ib_axis_tlast,

    output wire [DATA_BYTES*8-1:0]           m_slow_axis_tdata,
    output wire [DATA_BYTES-1:0]             m_slow_axis_tkeep,
    output wire                              m_slow_axis_tvalid,
    input  wire                              m_slow_axis_tready,
    output wire                              m_slow_axis_tlast,
    output wire [5:0]                        m_slow_axis_tuser,    // {reason, src_port}

    output wire [31:0]                       stat_drop_bad_crc,
    output wire [31:0]                       stat_drop_runt,
    output wire [31:0]                       stat_drop_giant,
    output wire [31:0]                       stat_drop_bad_header,
    output wire [31:0]                       stat_drop_key_mismatch,
    output wire [31:0]                       stat_drop_unknown,
    output wire [31:0]                       stat_drop_queue_full,
    output wire [31:0]                       stat_slow_path,
    output wire [31:0]                       stat_eth2ib_frames,
    output wire [31:0]                       stat_ib2eth_frames
);
    wire e2i_cfg_ready;
    wire i2e_cfg_ready;
    // both copies of the table take every write; each direction ties its ready high
    assign s_cfg_axis_tready = e2i_cfg_ready & i2e_cfg_ready;

    wire [31:0] e2i_drop_bad_crc, e2i_drop_runt, e2i_drop_giant, e2i_drop_queue_full;
    wire [31:0] e2i_drop_unknown, e2i_slow_path, e2i_frames;
    wire [31:0] i2e_drop_bad_crc, i2e_drop_runt, i2e_drop_giant, i2e_drop_bad_header;
    wire [31:0] i2e_drop_key_mismatch, i2e_drop_unknown, i2e_drop_queue_full, i2e_frames;

    gateway_eth2ib #(
        .ETH_PORTS(ETH_PORTS), .DATA_BYTES(DATA_BYTES), .TABLE_ENTRIES(TABLE_ENTRIES),
        .FIFO_BEATS(FIFO_BEATS), .MTU_BYTES(MTU_BYTES), .GW_LID(GW_LID), .GW_QPN(GW_QPN)
    ) eth2ib (
        .clk(clk), .rst_n(rst_n),
        .s_eth_axis_tdata(s_eth_axis_tdata), .s_eth_axis_tkeep(s_eth_axis_tkeep),
        .s_eth_axis_tvalid(s_eth_axis_tvalid), .s_eth_axis_tready(s_eth_axis_tready),
        .s_eth_axis_tlast(s_eth_axis_tlast), .s_eth_axis_tuser(s_eth_axis_tuser),
        .s_cfg_axis_tdata(s_cfg_axis_tdata), .s_cfg_axis_tkeep(s_cfg_axis_tkeep),
        .s_cfg_axis_tvalid(s_cfg_axis_tvalid), .s_cfg_axis_tready(e2i_cfg_ready),
        .s_cfg_axis_tlast(s_cfg_axis_tlast),
        .m_ib_axis_tdata(m_ib_axis_tdata), .m_ib_axis_tkeep(m_ib_axis_tkeep),
        .m_ib_axis_tvalid(m_ib_axis_tvalid), .m_ib_axis_tready(m_ib_axis_tready),
        .m_ib_axis_tlast(m_ib_axis_tlast),
        .m_slow_axis_tdata(m_slow_axis_tdata), .m_slow_axis_tkeep(m_slow_axis_tkeep),
        .m_slow_axis_tvalid(m_slow_axis_tvalid), .m_slow_axis_tready(m_slow_axis_tready),
        .m_slow_axis_tlast(m_slow_axis_tlast), .m_slow_axis_tuser(m_slow_axis_tuser),
        .e2i_drop_bad_crc(e2i_drop_bad_crc), .e2i_drop_runt(e2i_drop_runt),
        .e2i_drop_giant(e2i_drop_giant), .e2i_drop_queue_full(e2i_drop_queue_full),
        .e2i_drop_unknown(e2i_drop_unknown), .e2i_slow_path(e2i_slow_path),
        .e2i_frames(e2i_frames)
    );

    gateway_ib2eth #(
        .ETH_PORTS(ETH_PORTS), .DATA_BYTES(DATA_BYTES), .TABLE_ENTRIES(TABLE_ENTRIES),
        .FIFO_BEATS(FIFO_BEATS), .MTU_BYTES(MTU_BYTES), .GW_LID(GW_LID), .GW_QPN(GW_QPN)
    ) ib2eth (
        .clk(clk), .rst_n(rst_n),
        .s_ib_axis_tdata(s_ib_axis_tdata), .s_ib_axis_tkeep(s_ib_axis_tkeep),
        .s_ib_axis_tvalid(s_ib_axis_tvalid), .s_ib_axis_tready(s_ib_axis_tready),
        .s_ib_axis_tlast(s_ib_axis_tlast),
        .s_cfg_axis_tdata(s_cfg_axis_tdata), .s_cfg_axis_tkeep(s_cfg_axis_tkeep),
        .s_cfg_axis_tvalid(s_cfg_axis_tvalid), .s_cfg_axis_tready(i2e_cfg_ready),
        .s_cfg_axis_tlast(s_cfg_axis_tlast),
        .m_eth_axis_tdata(m_eth_axis_tdata), .m_eth_axis_tkeep(m_eth_axis_tkeep),
        .m_eth_axis_tvalid(m_eth_axis_tvalid), .m_eth_axis_tready(m_eth_axis_tready),
        .m_eth_axis_tlast(m_eth_axis_tlast),
        .i2e_drop_bad_crc(i2e_drop_bad_crc), .i2e_drop_runt(i2e_drop_runt),
        .i2e_drop_giant(i2e_drop_giant), .i2e_drop_bad_header(i2e_drop_bad_header),
        .i2e_drop_key_mismatch(i2e_drop_key_mismatch), .i2e_drop_unknown(i2e_drop_unknown),
        .i2e_drop_queue_full(i2e_drop_queue_full), .i2e_frames(i2e_frames)
    );

    assign stat_drop_bad_crc      = e2i_drop_bad_crc + i2e_drop_bad_crc;
    assign stat_drop_runt         = e2i_drop_runt + i2e_drop_runt;
    assign stat_drop_giant        = e2i_drop_giant + i2e_drop_giant;
    assign stat_drop_bad_header   = i2e_drop_bad_header;
    assign stat_drop_key_mismatch = i2e_drop_key_mismatch;
    assign stat_drop_unknown      = e2i_drop_unknown + i2e_drop_unknown;
    assign stat_drop_queue_full   = e2i_drop_queue_full + i2e_drop_queue_full;
    assign stat_slow_path         = e2i_slow_path;
    assign stat_eth2ib_frames     = e2i_frames;
    assign stat_ib2eth_frames     = i2e_frames;
endmodule

`resetall
