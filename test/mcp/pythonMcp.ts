import { pythonVenv } from '../support/pythonVenv.ts';

/** The version of Python's `mcp` package (PyPI) the independent-client test uses. */
export const pythonMcpVersion = '2.3.0';

/** The Python of `.cache/python-mcp`, with the pinned `mcp` installed when missing. */
export function pythonWithMcp(): Promise<string> {
  return pythonVenv({ name: 'python-mcp', packages: [`mcp==${pythonMcpVersion}`] });
}
