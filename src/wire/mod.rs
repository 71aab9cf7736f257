//! BOLT 1/2/7/9 wire formats: BigSize, TLV streams, typed messages, feature bits.
