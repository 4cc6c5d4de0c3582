"""`aitrader prices import`: Alpha Vantage JSON files and AI-Trader merged.jsonl into the store."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import attrs

from aitrader.errors import DataError
from aitrader.market.avformat import parse_series, read_documents
from aitrader.market.prices import upsert_bars
from aitrader.store import Store


@attrs.define
class ImportSummary:
    symbols: dict[str, int] = attrs.Factory(dict)  # symbol -> bars written
    skipped: list[str] = attrs.Factory(list)  # "SYMBOL date: why"
    rejected: list[str] = attrs.Factory(list)  # "origin: why" for whole documents

    @property
    def bars(self) -> int:
        return sum(self.symbols.values())


async def import_price_files(store: Store, paths: Iterable[Path]) -> ImportSummary:
    summary = ImportSummary()
    for path in paths:
        for origin, doc in read_documents(path):
            if doc is None:  # a file of the folder that holds no prices
                summary.rejected.append(origin)
                continue
            try:
                series = parse_series(doc)
            except DataError as exc:
                summary.rejected.append(f"{origin}: {exc.message}")
                continue
            written = await upsert_bars(store, series.feed, series.bars)
            summary.symbols[series.symbol] = summary.symbols.get(series.symbol, 0) + written
            summary.skipped.extend(f"{series.symbol} {why}" for why in series.skipped)
    return summary
