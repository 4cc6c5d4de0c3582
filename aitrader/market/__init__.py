"""Market data: the NYSE calendar, the prices table, Alpha Vantage, AI-Trader files, the demo."""
