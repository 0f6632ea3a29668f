"""vendorgate.signing."""
