"""Stage 1, data: rebuild ex4data1.mat from MNIST and copy ex4weights.mat (checksum verified)."""
