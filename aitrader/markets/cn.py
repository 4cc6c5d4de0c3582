"""China A-shares: the SSE 50 (000016.SH) constituents on the Shanghai calendar (XSHG).

Daily: one session per trading day. Hourly: the four 60-minute bars 09:30, 10:30, 13:00 and
14:00 Beijing time (the lunch break is 11:30-13:00), ids like `2025-10-09T09:30:00+08:00`
(always +08:00). Main board: lots of 100 (a sell may close an odd holding whole); STAR
(688...): at least 200 shares, then any number. T+1 per trading day. Price limits +-10%
(STAR +-20%) from the previous trading day's close. CNY 100,000. Benchmark: the SSE 50 index
daily; hourly, a replica valued on the constituents' bars with units fixed from the
published weights and the closes of the weight date (2025-09-30).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from aitrader.market.calendar import Calendar, exchange
from aitrader.markets.market import Benchmark, BenchmarkKind, Frequency, Market
from aitrader.markets.rules import ChinaLots, PriceLimits
from aitrader.markets.sessions import Schedule, from_the_open

ZONE = ZoneInfo("Asia/Shanghai")
INDEX = "000016.SH"
WEIGHT_DATE = date(2025, 9, 30)

# SSE 50 constituents at 2025-09-30 (Tushare index_weight): code, weight %, name
WEIGHTS_2025_09_30: tuple[tuple[str, str, str], ...] = (
    ("600519.SH", "9.856", "贵州茅台"),
    ("601318.SH", "6.445", "中国平安"),
    ("600036.SH", "5.435", "招商银行"),
    ("601899.SH", "5.269", "紫金矿业"),
    ("600900.SH", "3.623", "长江电力"),
    ("601166.SH", "3.585", "兴业银行"),
    ("600276.SH", "3.472", "恒瑞医药"),
    ("600030.SH", "3.171", "中信证券"),
    ("603259.SH", "3.045", "药明康德"),
    ("688981.SH", "3.028", "中芯国际"),
    ("688256.SH", "3.005", "寒武纪-U"),
    ("601398.SH", "2.78", "工商银行"),
    ("688041.SH", "2.552", "海光信息"),
    ("601211.SH", "2.317", "国泰海通"),
    ("601288.SH", "2.314", "农业银行"),
    ("601328.SH", "1.948", "交通银行"),
    ("688008.SH", "1.926", "澜起科技"),
    ("600887.SH", "1.875", "伊利股份"),
    ("600150.SH", "1.698", "中国船舶"),
    ("601816.SH", "1.636", "京沪高铁"),
    ("601127.SH", "1.523", "赛力斯"),
    ("600031.SH", "1.498", "三一重工"),
    ("688012.SH", "1.421", "中微公司"),
    ("603501.SH", "1.399", "豪威集团"),
    ("601088.SH", "1.38", "中国神华"),
    ("600309.SH", "1.363", "万华化学"),
    ("601601.SH", "1.306", "中国太保"),
    ("601668.SH", "1.224", "中国建筑"),
    ("603993.SH", "1.199", "洛阳钼业"),
    ("601012.SH", "1.186", "隆基绿能"),
    ("601728.SH", "1.124", "中国电信"),
    ("600690.SH", "1.033", "海尔智家"),
    ("600809.SH", "1.029", "山西汾酒"),
    ("600941.SH", "1.027", "中国移动"),
    ("600406.SH", "1.002", "国电南瑞"),
    ("601857.SH", "0.993", "中国石油"),
    ("601766.SH", "0.987", "中国中车"),
    ("601919.SH", "0.982", "中远海控"),
    ("600050.SH", "0.934", "中国联通"),
    ("600760.SH", "0.86", "中航沈飞"),
    ("601225.SH", "0.843", "陕西煤业"),
    ("600028.SH", "0.838", "中国石化"),
    ("601988.SH", "0.806", "中国银行"),
    ("688111.SH", "0.796", "金山办公"),
    ("601985.SH", "0.779", "中国核电"),
    ("601888.SH", "0.759", "中国中免"),
    ("601628.SH", "0.718", "中国人寿"),
    ("601600.SH", "0.71", "中国铝业"),
    ("601658.SH", "0.689", "邮储银行"),
    ("600048.SH", "0.613", "保利发展"),
)  # fmt: skip

UNIVERSE: tuple[str, ...] = tuple(code for code, _, _ in WEIGHTS_2025_09_30)
NAMES: dict[str, str] = {code: name for code, _, name in WEIGHTS_2025_09_30}


def normalise(symbol: object) -> str:
    """`600519`, `600519.SH`, `600519.SHH` (Alpha Vantage), `sh600519`, `SH600519` ->
    `600519.SH`."""
    text = str(symbol).strip().upper()
    if text.startswith("SH") and text[2:].isdigit():
        text = text[2:]
    for suffix in (".SHH", ".SS", ".SH"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
            break
    return f"{text}.SH" if text.isdigit() and len(text) == 6 else text


def calendar() -> Calendar:
    return exchange("XSHG")


def build(frequency: Frequency) -> Market:
    hourly = frequency is Frequency.HOURLY
    weights = {code: Decimal(w) for code, w, _ in WEIGHTS_2025_09_30}
    bench = (Benchmark("SSE50-replica", "SSE 50 hourly replica (2025-09-30 weights)",
                       BenchmarkKind.REPLICA, weights=weights, weight_date=WEIGHT_DATE,
                       index=INDEX) if hourly
             else Benchmark(INDEX, "SSE 50 index (000016.SH)", BenchmarkKind.SERIES,
                            index=INDEX))
    return Market(
        key="cn", frequency=frequency,
        title=f"SSE 50 A-shares, {frequency}",
        universe=UNIVERSE, currency="CNY", starting_cash=Decimal("100000"),
        schedule=Schedule(calendar, ZONE, hourly, from_the_open),
        lots=ChinaLots(0, "shares"), t_plus_one=True, limits=PriceLimits(),
        benchmark=bench, periods_per_year=242 * 4 if hourly else 242,
        price_places=2, normalise=normalise, names=NAMES)
