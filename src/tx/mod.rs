//! BOLT 3 transactions: funding, commitment, HTLC, closing, sweeps and penalties.
