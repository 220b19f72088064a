"""Drives pod-runner-mcp over stdio with Python's own MCP client (the `mcp` package from PyPI).

Usage: python python_mcp_client.py COMMAND [ARG...]  (the server's command line)
Prints one JSON line: the tool names, and the result of running print(6*7) with the python tool.
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main() -> None:
    server = StdioServerParameters(command=sys.argv[1], args=sys.argv[2:])
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            result = await session.call_tool("python", {"code": "print(6*7)"})
            print(
                json.dumps(
                    {
                        "tools": sorted(tool.name for tool in tools.tools),
                        "isError": bool(result.is_error),
                        "text": [item.text for item in result.content if item.type == "text"],
                    }
                )
            )


asyncio.run(main())
