//! BOLT 8 Noise_XK transport: handshake and encrypted framing, sans-IO.
