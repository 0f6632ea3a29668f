"""vendorgate."""
