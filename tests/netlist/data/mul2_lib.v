// A 2x2 multiplier mapped to the cells of tiny.lib (yosys/abc style output).
module mul2_lib(a, b, p);
  input [1:0] a;
  input [1:0] b;
  output [3:0] p;
  wire n1, n2, n3, n4, n5;
  AND2_X1 u0 (.A1(a[0]), .A2(b[0]), .ZN(p[0]));
  AND2_X1 u1 (.A1(a[1]), .A2(b[0]), .ZN(n1));
  NAND2_X1 u2 (.A1(a[0]), .A2(b[1]), .ZN(n2));
  INV_X1 u3 (.A(n2), .ZN(n3));
  HA_X1 u4 (.A(n1), .B(n3), .S(p[1]), .CO(n4));
  AND2_X1 u5 (.A1(a[1]), .A2(b[1]), .ZN(n5));
  XOR2_X1 u6 (.A(n5), .B(n4), .Z(p[2]));
  AND2_X1 u7 (.A1(n5), .A2(n4), .ZN(p[3]));
endmodule
