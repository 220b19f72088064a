/**
 * Shell programs the executor runs in the pod through pods/exec. Code never passes through the
 * command line or a heredoc: it arrives on stdin as exactly `size` bytes, read by `head -c`, so
 * the same program works on servers that cannot half-close stdin (v4).
 */

/** Marks the executor's own messages on stderr (ASCII record separator, never in normal output). */
export const scriptMarker = '\u001epod-runner:';

export const exitCodes = {
  setupFailed: 201,
  outsideWorkspace: 202,
  incomplete: 203,
  missingInterpreter: 204,
} as const;

/**
 * argv: size workspace filename timeoutSeconds pidFile [interpreter...]. Writes stdin to the file
 * (checked, with symlinks resolved in the pod, to stay inside the workspace), then runs the first
 * interpreter found under `timeout` in its own process group, whose id goes to pidFile so another
 * exec can kill the whole tree. With no interpreter it only writes the file.
 *
 * Every block pays for each process this starts, so the common case (a plain file name in an
 * existing workspace) uses shell builtins only; `realpath` runs only for names with a slash and
 * for symlinks.
 */
export const runBlockScript = `
m='${scriptMarker}'
fail() { printf '%s%s\\n' "$m" "$2" >&2; exit "$1"; }
size=$1; ws=$2; name=$3; limit=$4; pidfile=$5; shift 5
[ -d "$ws" ] || mkdir -p -- "$ws" 2>/dev/null || fail ${exitCodes.setupFailed} "cannot create the workspace $ws"
cd -P -- "$ws" 2>/dev/null || fail ${exitCodes.setupFailed} "cannot enter the workspace $ws"
root=$PWD
real=
case $name in
  '' | */* | . | ..) ;;
  *) [ -L "$name" ] || real=$root/$name ;;
esac
if [ -z "$real" ]; then
  case $name in /*) path=$name ;; *) path=$root/$name ;; esac
  real=$(realpath -m -- "$path") || fail ${exitCodes.outsideWorkspace} "Filename is not in the workspace"
  case $real in "$root"/*) ;; *) fail ${exitCodes.outsideWorkspace} "Filename is not in the workspace" ;; esac
  mkdir -p -- "\${real%/*}" || fail ${exitCodes.setupFailed} "cannot create the directory of $name"
fi
head -c "$size" > "$real" || fail ${exitCodes.setupFailed} "cannot write $real"
[ "$(wc -c < "$real")" -eq "$size" ] || fail ${exitCodes.incomplete} "the code arrived incomplete"
[ $# -gt 0 ] || exit 0
interp=
for candidate in "$@"; do
  if command -v "$candidate" >/dev/null 2>&1; then interp=$candidate; break; fi
done
[ -n "$interp" ] || fail ${exitCodes.missingInterpreter} "no interpreter for this language in the pod (looked for: $*)"
command -v timeout >/dev/null 2>&1 || fail ${exitCodes.missingInterpreter} "the image has no timeout command (coreutils)"
PYTHONUNBUFFERED=1 timeout -k 2 "$limit" "$interp" "$real" </dev/null &
child=$!
printf '%s' "$child" > "$pidfile"
wait "$child" 2>/dev/null
rc=$?
# Leftovers in the block's process group (daemons holding stdout) would keep the exec open.
# (dash's kill takes "-PGID" but not "--".)
kill -KILL "-$child" 2>/dev/null
rm -f -- "$pidfile"
exit "$rc"
`;

/**
 * argv: pidFile. Kills the process group a block runs in: TERM, then KILL for whatever ignores it.
 * Waits briefly for the pid file when the block is still starting.
 */
export const killBlockScript = `
pidfile=$1
i=0
while [ ! -s "$pidfile" ] && [ "$i" -lt 30 ]; do sleep 0.1; i=$((i+1)); done
pid=$(cat -- "$pidfile" 2>/dev/null) || exit 0
kill -TERM "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
i=0
while kill -0 "-$pid" 2>/dev/null && [ "$i" -lt 10 ]; do sleep 0.1; i=$((i+1)); done
kill -KILL "-$pid" 2>/dev/null
rm -f -- "$pidfile"
exit 0
`;
