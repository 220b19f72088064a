/**
 * Shell programs the executor runs in the pod through pods/exec. Code never passes through the
 * command line or a heredoc: it arrives on stdin as exactly `size` bytes, read by `head -c`, so
 * the same program works on servers that cannot half-close stdin (v4).
 */

/** Marks the executor's own messages on stderr (ASCII record separator, never in normal output). */
export const scriptMarker = '\u001epod-runner:';

/**
 * Every process of a block carries `POD_RUNNER_BLOCK=<tag>` in its environment: children inherit
 * it whatever they do to their process group or session (`setsid`, double forks), so the block's
 * processes are found through /proc/<pid>/environ. Nothing is written outside the workspace, so
 * this works with a read-only root filesystem.
 */
export const blockTagVariable = 'POD_RUNNER_BLOCK';

export const exitCodes = {
  setupFailed: 201,
  outsideWorkspace: 202,
  incomplete: 203,
  missingInterpreter: 204,
  missingFile: 205,
} as const;

/**
 * `signal_tagged SIGNAL TAG`: sends SIGNAL to every process tagged TAG except this shell, and to
 * every process group one of them led in this or an earlier call (other than this shell's own;
 * remembered because the leader often dies first), which also reaches a process that dropped the
 * tag (`env -i`, an emptied environment) but stayed in its group; succeeds when it found a
 * tagged process. grep matches whole NUL-separated records (-z -x): busybox grep
 * otherwise sees only the first variable of each environ. (dash's kill takes no "--"; the
 * shell's own helpers carry no tag.)
 *
 * `before DEADLINE`: true while /proc/uptime, in hundredths of a second, is below DEADLINE, so a
 * loop over slow scans (thousands of processes) still ends in time.
 */
const signalTaggedFunction = `
group_of() {
  read -r stat 2>/dev/null < "/proc/$1/stat" || return 1
  set -- \${stat##*) }
  group=$3
}
groups=
signal_tagged() {
  found=1
  tagged=
  for env_file in $(grep -l -z -x -F "${blockTagVariable}=$2" /proc/[0-9]*/environ 2>/dev/null); do
    pid=\${env_file#/proc/}; pid=\${pid%/environ}
    [ "$pid" = "$$" ] || tagged="$tagged $pid"
  done
  group_of $$; own=$group
  for pid in $tagged; do
    group_of "$pid" || continue
    case "$groups " in *" $group "*) continue ;; esac
    case "$tagged " in *" $group "*) [ "$group" = "$own" ] || groups="$groups $group" ;; esac
  done
  for group in $groups; do kill "-$1" "-$group" 2>/dev/null; done
  for pid in $tagged; do kill "-$1" "$pid" 2>/dev/null && found=0; done
  return $found
}
now() {
  read -r up _ < /proc/uptime
  now=$(( \${up%.*} * 100 + 1\${up#*.} - 100 ))
}
before() { now; [ "$now" -lt "$1" ]; }
`;

/**
 * The command that runs `script` tagged for its block: the shell and everything it starts carry
 * the tag, so a kill finds the block even before the shell has started the code.
 */
export function taggedShell(tag: string, script: string, argv: string[]): string[] {
  return ['env', `${blockTagVariable}=${tag}`, 'sh', '-c', script, 'pod-runner', ...argv];
}

/**
 * Shared by the scripts that run code: the tag is taken off this shell (only the code and what it
 * starts carry it, not the script's helpers), and
 * - `pick_interpreter CANDIDATE...` sets `interp` to the first one on PATH, or fails;
 * - `run_tagged DIR ROOTS LIMIT ASSIGNED [NAME=VALUE...] PROGRAM [ARG...]` runs the program
 *   (through `env` when ASSIGNED, the count of assignments, is above 0, so they reach it alone,
 *   byte-exact; env takes every word holding `=` for one more assignment, so PROGRAM must then
 *   hold none) in DIR, with ROOTS (colon-separated) first on PYTHONPATH, tagged, in a process
 *   group of its own, under `timeout`; when it exits, whatever it started is killed, so the exec
 *   ends with the program's own exit code, left in `rc`.
 */
const launchFunctions = `
m='${scriptMarker}'
fail() { printf '%s%s\\n' "$m" "$2" >&2; exit "$1"; }
${signalTaggedFunction}
tag=$${blockTagVariable}
unset ${blockTagVariable}
pick_interpreter() {
  for candidate in "$@"; do
    if command -v "$candidate" >/dev/null 2>&1; then interp=$candidate; return 0; fi
  done
  fail ${exitCodes.missingInterpreter} "no interpreter for this language in the pod (looked for: $*)"
}
run_tagged() {
  dir=$1; roots=$2; limit=$3; assigned=$4; shift 4
  command -v timeout >/dev/null 2>&1 || fail ${exitCodes.missingInterpreter} "the image has no timeout command (coreutils)"
  cd -- "$dir" 2>/dev/null || fail ${exitCodes.setupFailed} "the working directory $dir does not exist in the pod"
  [ -z "$roots" ] || { PYTHONPATH=$roots\${PYTHONPATH:+:$PYTHONPATH}; export PYTHONPATH; }
  # GNU timeout makes a process group, busybox's needs setsid (started in the background, it is
  # no group leader, so setsid runs timeout itself, unforked).
  own_group=
  command -v setsid >/dev/null 2>&1 && own_group=setsid
  # env only when there are assignments: every block would pay for its exec.
  with_env=
  [ "$assigned" -eq 0 ] || with_env=env
  ${blockTagVariable}=$tag PYTHONUNBUFFERED=1 $own_group timeout -k 2 "$limit" $with_env "$@" </dev/null &
  child=$!
  wait "$child" 2>/dev/null
  rc=$?
  # Leftovers (daemons, setsid, background jobs) would hold the exec's stdout open and run on:
  # timeout's process group holds those that dropped the tag.
  kill -KILL "-$child" 2>/dev/null
  now; deadline=$((now + 200))
  while signal_tagged KILL "$tag" && before "$deadline"; do :; done
}
`;

/**
 * Run by `taggedShell`; argv: size workspace filename timeoutSeconds dir roots remove
 * [interpreter...]. Writes stdin to a temporary file next to the target (checked, with symlinks
 * resolved in the pod, to stay inside the workspace) and renames it into place only once
 * complete, so concurrent runs of the same file never see each other's half-written code. Then
 * runs it with the first interpreter found (`run_tagged`, in `dir`, default the workspace). With
 * `remove` = 1 the file is deleted when the script ends, however it ends (timeout, a kill's
 * TERM). With no interpreter it only writes the file.
 *
 * Every block pays for each process this starts, so the common case (a plain file name in an
 * existing workspace) uses shell builtins, `head`, `wc`, `mv` and one `grep`; `realpath` runs only
 * for names with a slash and for symlinks.
 */
export const runBlockScript = `
${launchFunctions}
size=$1; ws=$2; name=$3; limit=$4; dir=$5; roots=$6; remove=$7; shift 7
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
part="\${real%/*}/.\${real##*/}.$tag.part"
# A kill sends TERM again every 0.1 s: one arriving during the clean-up must not end it halfway.
cleanup() {
  trap '' TERM INT HUP
  if [ "$remove" = 1 ]; then rm -f -- "$part" "$real"; else rm -f -- "$part"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP
head -c "$size" > "$part" || fail ${exitCodes.setupFailed} "cannot write $real"
[ "$(wc -c < "$part")" -eq "$size" ] || fail ${exitCodes.incomplete} "the code arrived incomplete"
# -T and the check: a directory of that name must not receive the code.
[ -d "$real" ] && fail ${exitCodes.setupFailed} "cannot write $real"
mv -fT -- "$part" "$real" || fail ${exitCodes.setupFailed} "cannot write $real"
[ $# -gt 0 ] || exit 0
pick_interpreter "$@"
run_tagged "\${dir:-$root}" "$roots" "$limit" 0 "$interp" "$real"
exit "$rc"
`;

/**
 * Run by `taggedShell`; argv: dir roots timeoutSeconds file interpreters argCount [arg...]
 * [NAME=VALUE...]. Runs a file already in the pod, in place, with its arguments and environment
 * exactly as given: `interpreters` (space-separated) are tried in order; when empty the file runs
 * itself (its shebang). Nothing passes through a shell string: the arguments only move within
 * "$@" (rotated so the assignments come first, then the program, then its arguments). A file that
 * runs itself with assignments is started by `/bin/sh -c 'exec "$0" "$@"'`: its path may hold `=`
 * (`runs/date=2024-01-01/report`), which `env` would take for one more assignment (the shell goes
 * by its path, as env looks it up with the assignments, PATH among them, already applied).
 */
export const runFileScript = `
${launchFunctions}
dir=$1; roots=$2; limit=$3; file=$4; interpreters=$5; count=$6; shift 6
assigned=$(($# - count))
[ -f "$file" ] || fail ${exitCodes.missingFile} "$file is not in the pod: not synced (new since the last sync, ignored, or too large)"
if [ -n "$interpreters" ]; then
  pick_interpreter $interpreters
  set -- "$@" "$interp" "$file"
else
  [ -x "$file" ] || fail ${exitCodes.missingInterpreter} "$file has no known extension and is not executable"
  [ "$assigned" -eq 0 ] || set -- "$@" /bin/sh -c 'exec "$0" "$@"'
  set -- "$@" "$file"
fi
while [ "$count" -gt 0 ]; do set -- "$@" "$1"; shift; count=$((count - 1)); done
run_tagged "$dir" "$roots" "$limit" "$assigned" "$@"
exit "$rc"
`;

/** The kill script's exit code when no process of the block was running. */
export const nothingToKillExitCode = 3;

/**
 * argv: tag. Kills every process of a block: TERM, then KILL for whatever ignores it or was
 * started meanwhile. Exits 0 when it found some, else nothingToKillExitCode.
 */
export const killBlockScript = `
${signalTaggedFunction}
tag=$1
now; term_until=$((now + 100)); kill_until=$((now + 300))
rc=${nothingToKillExitCode}
while signal_tagged TERM "$tag" && before "$term_until"; do rc=0; sleep 0.1; done
while signal_tagged KILL "$tag" && before "$kill_until"; do rc=0; sleep 0.1; done
exit "$rc"
`;
