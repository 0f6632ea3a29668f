"""vendorgate.secrets."""
