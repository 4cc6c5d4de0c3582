"""Math tools: add, multiply (AI-Trader's names). Port MATH_HTTP_PORT (8000)."""

from __future__ import annotations

from fastmcp import FastMCP

from aitrader.settings import Settings
from aitrader.tools.serving import add_health, claimed_caller, run_main, serve


def build() -> FastMCP:
    mcp = FastMCP("Math")

    @mcp.tool()
    def add(a: float, b: float) -> float:
        """Add two numbers (int or float) and return the sum."""
        claimed_caller()  # it shows nothing dated: the headers' shape is enough
        return a + b

    @mcp.tool()
    def multiply(a: float, b: float) -> float:
        """Multiply two numbers (int or float) and return the product."""
        claimed_caller()  # it shows nothing dated: the headers' shape is enough
        return a * b

    add_health(mcp, "math")
    return mcp


async def main() -> None:
    settings = Settings.from_env()
    await serve(build(), name="math",
                        host=settings.mcp_host, port=settings.ports["math"])


if __name__ == "__main__":
    run_main(main)
