"""vendorgate.testing."""
