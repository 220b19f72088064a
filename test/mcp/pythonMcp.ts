import { pythonEnvironments, pythonOf } from '../support/pythonEnvironments.ts';

/** The version of Python's `mcp` package (PyPI) the independent-client test uses. */
export const pythonMcpVersion = pythonEnvironments.mcp.packages[0].split('==')[1]!;

/** The Python of `.cache/python-mcp`, with the pinned `mcp` installed when missing. */
export function pythonWithMcp(): Promise<string> {
  return pythonOf('mcp');
}
