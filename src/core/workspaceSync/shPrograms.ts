/**
 * The sync's programs in POSIX sh, for images without Python: the same framed streams and
 * answers as the Python programs (podPrograms.ts describes them).
 */

/**
 * How sh reads exactly N bytes from the stream. GNU head does; busybox head reads ahead from a
 * pipe, so busybox images use dd counting bytes, and plain `dd bs=1` is the slow last resort.
 * Run with $2 = "detect", a script first finds the reader and prints `reader <name>`.
 */
const shReader = `
# The tools start faster without a locale to load (a third of head's start), and paths are bytes.
export LC_ALL=C
if [ "$2" = detect ]; then
  probe() { [ "$(printf 'abcd\\nxy\\n' | { "$@" >/dev/null 2>&1; IFS= read -r l; echo "$l"; })" = cd ]; }
  if probe head -c 2; then reader=head
  elif probe dd bs=65536 count=2 iflag=count_bytes,fullblock; then reader=dd
  else reader=bytes
  fi
  echo "reader $reader"
else
  reader=$2
fi
# Copies $1 bytes; with $2 = exec the tool replaces the subshell that called it.
copy() {
  case $reader in
    head) $2 head -c "$1" ;;
    dd) $2 dd bs=65536 count="$1" iflag=count_bytes,fullblock 2>/dev/null ;;
    *) $2 dd bs=1 count="$1" 2>/dev/null ;;
  esac
}
decode() {
  case $1 in
    *\\\\*) p=$(printf '%bx' "$1"); p=\${p%x} ;;
    *) p=$1 ;;
  esac
}
`;

/** Prints the tree under the current folder NUL-terminated as `f <path>` or `l <path>`, then `end`. */
const shWalk = `
walk() {
  for e in "$1"/* "$1"/.*; do
    case \${e##*/} in .|..) continue ;; esac
    if [ -L "$e" ]; then printf 'l %s\\000' "\${e#./}"
    elif [ -d "$e" ]; then [ "\${e##*/}" = .git ] || walk "$e"
    elif [ -f "$e" ]; then printf 'f %s\\000' "\${e#./}"
    fi
  done
}
`;

export const shReceiver = `${shReader}${shWalk}
trap '' PIPE
n=0
tmp=
made=
# The folder mirrors a local folder: a symlink or file in its way is replaced, never followed.
folder() {
  q=.
  rest=$1/
  while [ -n "$rest" ]; do
    q=$q/\${rest%%/*}
    rest=\${rest#*/}
    if [ -L "$q" ] || [ -f "$q" ]; then rm -f "$q" 2>&1 || return 1; fi
  done
  [ -d "$1" ] || mkdir -p "$1" 2>&1 || return 1
  # A receiver that was killed left its temporary file behind.
  for t in "$1"/.podrunner-sync.*.tmp; do
    pid=\${t##*/.podrunner-sync.}; pid=\${pid%.tmp}
    case $pid in *[!0-9]*|'') continue ;; esac
    [ -d "/proc/$pid" ] || rm -f "$t"
  done
}
# Whether every folder above $1 is a real folder: a deletion never follows a symlink the pod
# planted where a folder was, and a path under one is gone from the root already.
real_parent() {
  q=.
  rest=\${1#./}
  while [ "\${rest#*/}" != "$rest" ]; do
    q=$q/\${rest%%/*}
    rest=\${rest#*/}
    if [ -L "$q" ] || [ ! -d "$q" ]; then return 1; fi
  done
}
fail() {
  [ -n "$tmp" ] && rm -f "$tmp"
  echo "err $n $1"
  exit 1
}
{ [ -d "$1" ] || mkdir -p "$1" 2>&1; } && cd "$1" 2>&1 || fail 'cannot create or enter the folder'
if [ "$3" = list ]; then
  walk .
  printf 'end\\000'
fi
# No mark of this sync's earlier receivers: a new container, whose files nobody recorded.
if [ "$3" = check ] && [ ! -e "$4" ] && (: >"$4") 2>/dev/null; then echo new-pod; exit 0; fi
[ -e "$4" ] || (: >"$4") 2>/dev/null
while IFS=' ' read -r op a b c; do
  n=$((n + 1))
  case $op in
    Q) echo done; exit 0 ;;
    D)
      decode "$a"; p=./$p
      if real_parent "$p"; then
        if [ -L "$p" ] || [ ! -d "$p" ]; then rm -f "$p" 2>&1 || fail 'cannot remove'; fi
        d=\${p%/*}
        while [ "$d" != "$p" ] && rmdir "$d" 2>/dev/null; do p=$d; d=\${p%/*}; done
      fi
      made=
      ;;
    F|L)
      if [ "$op" = L ]; then decode "$a"; link=$p; decode "$b"; else decode "$c"; fi
      # A name may start with "-": every path the tools see starts with "./".
      p=./$p
      d=\${p%/*}
      if [ "$d" != "$made" ]; then
        folder "$d" || fail 'cannot create the folder'
        made=$d
      fi
      tmp="$d/.podrunner-sync.$$.tmp"
      if [ "$op" = F ]; then
        case $a in
          # No execute or special bit: a umask of the mode's complement creates it exact, and
          # saves starting chmod. Set in a subshell that becomes the copying tool, it costs no process
          # of its own and leaves the receiver's umask as it was.
          [0246][0246][0246])
            r=\${a#?}
            m="$((6 - \${a%??}))$((6 - \${r%?}))$((6 - \${r#?}))"
            (umask "$m" && copy "$b" exec 2>&1 >"$tmp") || fail 'cannot write'
            ;;
          *)
            copy "$b" 2>&1 >"$tmp" || fail 'cannot write'
            chmod "$a" "$tmp" 2>&1 || fail 'cannot set the mode'
            ;;
        esac
        IFS= read -r t && [ "$t" = . ] || fail 'the stream ended early'
      else
        rm -f "$tmp"
        ln -s -- "$link" "$tmp" 2>&1 || fail 'cannot create the symlink'
      fi
      # mv would move the file into a folder in the way: the mirror replaces the folder.
      if [ -L "$p" ]; then rm -f "$p"
      elif [ -d "$p" ]; then rm -rf "$p" 2>&1 || fail 'cannot replace the folder'
      fi
      mv -f "$tmp" "$p" 2>&1 || fail 'cannot rename into place'
      tmp=
      ;;
    *) fail 'unexpected record' ;;
  esac
  echo "ok $n"
done
fail 'the stream ended early'
`;

/**
 * Lists the tree's paths NUL-terminated as `f <path>` or `l <path>`, then `end`: sh cannot hash,
 * so a sync over sh resends every file and removes what is not in the folder.
 */
export const shLister = `${shReader}${shWalk}
cd "$1" 2>/dev/null || { printf 'end\\000'; exit 0; }
walk .
printf 'end\\000'
`;

/**
 * Names what Download from Pod copies over sh, NUL-terminated: `d|f|x|l <path>` (x: an executable
 * file), or `X <reason>`. Without a size tool sh cannot frame contents, so each file is then read
 * by an exec of its own (`shFileReader`).
 */
export const shSenderLister = `${shReader}
src=$1
[ "$src" = / ] || src=\${src%/}
[ -L "$src" ] || [ -e "$src" ] || { printf 'X No such file or directory\\000'; exit 0; }
walk() {
  for e in "$1"/* "$1"/.*; do
    case \${e##*/} in .|..) continue ;; esac
    item "$e"
  done
}
item() {
  if [ -L "$1" ]; then printf 'l %s\\000' "$1"
  elif [ -d "$1" ]; then printf 'd %s\\000' "$1"; walk "$1"
  elif [ -f "$1" ] && [ -x "$1" ]; then printf 'x %s\\000' "$1"
  elif [ -f "$1" ]; then printf 'f %s\\000' "$1"
  fi
}
item "$src"
printf 'end\\000'
`;

export const shFileReader = 'exec head -c 1099511627776 < "$1"';
