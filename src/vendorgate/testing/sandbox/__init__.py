"""vendorgate.testing.sandbox."""
