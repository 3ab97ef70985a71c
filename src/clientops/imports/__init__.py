"""Imports: customers, orders and activities from the files other systems export."""
