"""The trading universe: AI-Trader's NASDAQ-100 list (October 2025) and the QQQ benchmark."""

from __future__ import annotations

BENCHMARK = "QQQ"

# The order of AI-Trader's position.jsonl files, so exports line up with the original.
NASDAQ_100: tuple[str, ...] = (
    "NVDA", "MSFT", "AAPL", "GOOG", "GOOGL", "AMZN", "META", "AVGO", "TSLA", "NFLX", "PLTR",
    "COST", "ASML", "AMD", "CSCO", "AZN", "TMUS", "MU", "LIN", "PEP", "SHOP", "APP", "INTU",
    "AMAT", "LRCX", "PDD", "QCOM", "ARM", "INTC", "BKNG", "AMGN", "TXN", "ISRG", "GILD", "KLAC",
    "PANW", "ADBE", "HON", "CRWD", "CEG", "ADI", "ADP", "DASH", "CMCSA", "VRTX", "MELI", "SBUX",
    "CDNS", "ORLY", "SNPS", "MSTR", "MDLZ", "ABNB", "MRVL", "CTAS", "TRI", "MAR", "MNST", "CSX",
    "ADSK", "PYPL", "FTNT", "AEP", "WDAY", "REGN", "ROP", "NXPI", "DDOG", "AXON", "ROST", "IDXX",
    "EA", "PCAR", "FAST", "EXC", "TTWO", "XEL", "ZS", "PAYX", "WBD", "BKR", "CPRT", "CCEP",
    "FANG", "TEAM", "CHTR", "KDP", "MCHP", "GEHC", "VRSK", "CTSH", "CSGP", "KHC", "ODFL", "DXCM",
    "TTD", "ON", "BIIB", "LULU", "CDW", "GFS",
)  # fmt: skip

UNIVERSE = frozenset(NASDAQ_100)
ALL_SYMBOLS: tuple[str, ...] = (*NASDAQ_100, BENCHMARK)


def normalise(symbol: object) -> str:
    return str(symbol).strip().upper()
