// EvoApprox8b-style cell library (behavioural one-liners per cell).
module PDKGENAND2X1(input A, input B, output Y);
  assign Y = A & B;
endmodule

module PDKGENHAX1(input A, input B, output YS, output YC);
  assign YS = A ^ B;
  assign YC = A & B;
endmodule

module PDKGENFAX1(input A, input B, input C, output YS, output YC);
  assign YS = (A ^ B) ^ C;
  assign YC = (A & B) | (B & C) | (A & C);
endmodule

module PDKGENMUX2X1(input A, input B, input S, output Y);
  assign Y = S ? B : A;
endmodule
