"""vendorgate.cache."""
