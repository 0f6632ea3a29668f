"""vendorgate.http."""
