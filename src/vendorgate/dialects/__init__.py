"""vendorgate.dialects."""
