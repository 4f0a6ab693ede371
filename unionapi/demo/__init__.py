"""Demo network: synthetic Vietnamese library catalogues and the OAI-PMH providers that serve them."""
