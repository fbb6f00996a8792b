// A one-stage register slice on a valid/ready stream: the smallest block that
// exercises every part of the harness (drivers, monitors, user fields, backpressure).
module passthru #(
    // bytes per beat
    parameter int DATA_BYTES = 8
) (
    input  wire                    clk,
    input  wire                    rst_n,

    input  wire [DATA_BYTES*8-1:0] s_axis_tdata,
    input  wire [DATA_BYTES-1:0]   s_axis_tkeep,
    input  wire                    s_axis_tvalid,
    output wire                    s_axis_tready,
    input  wire                    s_axis_tlast,
    input  wire [7:0]              s_axis_tuser,

    output wire [DATA_BYTES*8-1:0] m_axis_tdata,
    output wire [DATA_BYTES-1:0]   m_axis_tkeep,
    output wire                    m_axis_tvalid,
    input  wire                    m_axis_tready,
    output wire                    m_axis_tlast,
    output wire [7:0]              m_axis_tuser
);
    reg [DATA_BYTES*8-1:0] data_reg;
    reg [DATA_BYTES-1:0]   keep_reg;
    reg                    valid_reg;
    reg                    last_reg;
    reg [7:0]              user_reg;

    assign s_axis_tready = !valid_reg || m_axis_tready;

    always @(posedge clk) begin
        if (!rst_n) begin
            valid_reg <= 1'b0;
        end else if (s_axis_tready) begin
            valid_reg <= s_axis_tvalid;
        end
        if (s_axis_tready && s_axis_tvalid) begin
`ifdef HCASIM_DEFECT_CORRUPT_TAG_5A
            // corrupts byte 0 of every beat of packets tagged 0x5a
            data_reg <= s_axis_tdata ^ {{(DATA_BYTES*8-1){1'b0}}, s_axis_tuser == 8'h5a};
`else
            data_reg <= s_axis_tdata;
`endif
            keep_reg <= s_axis_tkeep;
            last_reg <= s_axis_tlast;
            user_reg <= s_axis_tuser;
        end
    end

    assign m_axis_tdata  = data_reg;
    assign m_axis_tkeep  = keep_reg;
    assign m_axis_tvalid = valid_reg;
    assign m_axis_tlast  = last_reg;
    assign m_axis_tuser  = user_reg;
endmodule
