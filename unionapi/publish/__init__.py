"""Giving the union catalogue back: its entries as MARC21, Dublin Core and citations, served over
OAI-PMH, SRU and Z39.50 (through a Zebra kept up to date), and as bulk exports."""
