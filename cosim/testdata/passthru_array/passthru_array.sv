// COUNT independent one-stage register slices on packed-array streams (element i at
// [i*W +: W]), and a counter of frames out: a harness fixture for port arrays and wires.
module passthru_array #(
    parameter int COUNT = 3,       // streams
    parameter int DATA_BYTES = 8   // bytes per beat
) (
    input  wire                          clk,
    input  wire                          rst_n,

    input  wire [COUNT*DATA_BYTES*8-1:0] s_axis_tdata,
    input  wire [COUNT*DATA_BYTES-1:0]   s_axis_tkeep,
    input  wire [COUNT-1:0]              s_axis_tvalid,
    output wire [COUNT-1:0]              s_axis_tready,
    input  wire [COUNT-1:0]              s_axis_tlast,
    input  wire [COUNT*4-1:0]            s_axis_tuser,

    output wire [COUNT*DATA_BYTES*8-1:0] m_axis_tdata,
    output wire [COUNT*DATA_BYTES-1:0]   m_axis_tkeep,
    output wire [COUNT-1:0]              m_axis_tvalid,
    input  wire [COUNT-1:0]              m_axis_tready,
    output wire [COUNT-1:0]              m_axis_tlast,
    output wire [COUNT*4-1:0]            m_axis_tuser,

    output wire [31:0]                   frames_out
);
    reg [31:0] frames_reg;
    reg [31:0] frames_next;

    genvar g;
    generate
        for (g = 0; g < COUNT; g = g + 1) begin : lane
            reg [DATA_BYTES*8-1:0] data_reg;
            reg [DATA_BYTES-1:0]   keep_reg;
            reg                    valid_reg;
            reg                    last_reg;
            reg [3:0]              user_reg;
            assign s_axis_tready[g] = !valid_reg || m_axis_tready[g];
            always @(posedge clk) begin
                if (!rst_n) begin
                    valid_reg <= 1'b0;
                end else if (s_axis_tready[g]) begin
                    valid_reg <= s_axis_tvalid[g];
                end
                if (s_axis_tready[g] && s_axis_tvalid[g]) begin
                    data_reg <= s_axis_tdata[g*DATA_BYTES*8 +: DATA_BYTES*8];
                    keep_reg <= s_axis_tkeep[g*DATA_BYTES +: DATA_BYTES];
                    last_reg <= s_axis_tlast[g];
                    user_reg <= s_axis_tuser[g*4 +: 4] ^ 4'(g);   // the element number, so lanes cannot be mixed up
                end
            end
            assign m_axis_tdata[g*DATA_BYTES*8 +: DATA_BYTES*8] = data_reg;
            assign m_axis_tkeep[g*DATA_BYTES +: DATA_BYTES]     = keep_reg;
            assign m_axis_tvalid[g]                             = valid_reg;
            assign m_axis_tlast[g]                              = last_reg;
            assign m_axis_tuser[g*4 +: 4]                       = user_reg;
        end
    endgenerate

    always @* begin
        frames_next = frames_reg;
        for (int i = 0; i < COUNT; i = i + 1) begin
            if (m_axis_tvalid[i] && m_axis_tready[i] && m_axis_tlast[i]) frames_next = frames_next + 32'd1;
        end
    end

    always @(posedge clk) begin
        if (!rst_n) frames_reg <= 32'd0;
        else        frames_reg <= frames_next;
    end

    assign frames_out = frames_reg;
endmodule
