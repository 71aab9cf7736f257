//! BOLT 11 invoices.
