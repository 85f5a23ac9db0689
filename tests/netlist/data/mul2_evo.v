/* An exact 2x2 multiplier written the way EvoApprox8b ships its netlists:
   one wide wire vector N, cells from a separate library. */
// Library = EvoApprox8b-like fixture
`timescale 1ns/1ps
module mul2_evo(A, B, O);
  input [1:0] A;
  input [1:0] B;
  output [3:0] O;
  wire [31:0] N;

  assign N[0] = A[0];
  assign N[1] = A[1];
  assign N[2] = B[0];
  assign N[3] = B[1];
  PDKGENAND2X1 n4(.A(N[0]), .B(N[2]), .Y(N[4]));
  PDKGENAND2X1 n5(.A(N[1]), .B(N[2]), .Y(N[5]));
  PDKGENAND2X1 n6(.A(N[0]), .B(N[3]), .Y(N[6]));
  PDKGENAND2X1 n7(.A(N[1]), .B(N[3]), .Y(N[7]));
  PDKGENHAX1 n8(.A(N[5]), .B(N[6]), .YS(N[8]), .YC(N[9]));
  PDKGENHAX1 n10(.A(N[7]), .B(N[9]), .YS(N[10]), .YC(N[11]));

  assign O[0] = N[4];
  assign O[1] = N[8];
  assign O[2] = N[10];
  assign O[3] = N[11];
endmodule
