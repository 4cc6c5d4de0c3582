"""What the MCP tool servers in mcp/ do: identity, look-ahead rules, prices, news, trades."""
