#!/usr/bin/env bash
# The man pages against the program: every page renders without a warning (man as lintian runs it,
# and groff -ww), every verb `tightrope --help` names has a page (and a line in tightrope(1)), every
# option `tightrope VERB --help` prints appears in that verb's page, every request `ctl --help`
# lists appears in tightrope-ctl(8). A failure names the flag (or verb, or request) and the page.
# usage: man_pages.sh TIGHTROPE_BINARY [MAN_DIR]   (default: docs/man in the binary's build directory;
#        an installed tree such as DESTDIR/usr/share/man works too, gzipped pages included)
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
bin=$(realpath "$1")
mandir=${2:-$(dirname "$(dirname "$bin")")/docs/man}
with_scratch man

[[ -d $mandir ]] || { bad "no man directory $mandir (is scdoc installed? meson -Dman=enabled)"; give_up; }
mapfile -t pages < <(find "$mandir" -type f -name 'tightrope*.[0-9]*' | sort)
((${#pages[@]})) || { bad "no tightrope pages under $mandir"; give_up; }
ok "${#pages[@]} pages under $mandir"

# page_of NAME: the file of page NAME (tightrope-connect) in any section, gzipped or not; empty if none.
page_of() {
  local p base
  for p in "${pages[@]}"; do
    base=${p##*/}
    base=${base%.gz}
    [[ ${base%.*} == "$1" ]] && { echo "$p"; return; }
  done
}
# text_of PAGE: the page as plain text, one paragraph a line (no line breaks, no hyphenation), so a
# flag is never split; groff's Unicode hyphen and minus become '-'.
text_of() {
  zcat -f "$1" | groff -man -Tutf8 -rLL=4000n -rHY=0 -P-cbou 2>/dev/null | sed 's/\xe2\x80\x90/-/g; s/\xe2\x88\x92/-/g'
}
# documents TEXTFILE WORD: WORD appears in the text as a word of its own (not inside --foo-bar).
documents() { grep -qP -- "(?<![\\w-])\\Q$2\\E(?![\\w-])" "$1"; }

# (1) Each page renders cleanly, as lintian's check runs man, and under groff's warnings.
for p in "${pages[@]}"; do
  name=${p##*/}
  LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$p" >"$work/out" 2>"$work/err"
  rc=$?
  zcat -f "$p" | groff -ww -z -man 2>>"$work/err"
  text_of "$p" >"$work/text"
  if [[ $rc == 0 && ! -s $work/err && -s $work/out ]] && grep -q '^NAME' "$work/text"; then
    ok "$name renders without warnings"
  else
    bad "$name: man rc=$rc, warnings: $(head -5 "$work/err" | tr '\n' ' ')"
  fi
done

# (2) The verbs: the first word of each command line of `tightrope --help`, and the hyphenated words
# of its descriptions (disconnect-all, check-tls-key...) that the program takes as a verb.
"$bin" --help >"$work/help" 2>&1 || bad "tightrope --help exits non-zero"
main=$(page_of tightrope)
[[ -n $main ]] && text_of "$main" >"$work/main.txt" || { bad "no page tightrope(1)"; : >"$work/main.txt"; }
mapfile -t candidates < <(sed -n '/^commands:/,/^$/p' "$work/help" | grep '^  [a-z]' |
  { while read -r first rest; do echo "$first"; grep -oP '(?<![\w-])[a-z]+(-[a-z]+)+(?![\w-])' <<<"$rest"; done; } |
  awk '!seen[$0]++')
verbs=()
for v in "${candidates[@]}"; do
  "$bin" "$v" --help >/dev/null 2>&1 </dev/null && verbs+=("$v")
done
((${#verbs[@]} >= 10)) && ok "${#verbs[@]} verbs in tightrope --help: ${verbs[*]}" ||
  bad "only ${#verbs[@]} verbs found in tightrope --help: ${verbs[*]}"
for f in --help --version; do
  documents "$work/main.txt" "$f" || bad "tightrope(1) does not document $f"
done

# (3) Each verb: its page, a mention in tightrope(1), and every option its --help prints.
for v in "${verbs[@]}"; do
  page=$(page_of "tightrope-$v")
  if [[ -z $page ]]; then
    bad "verb '$v' has no page tightrope-$v (add docs/man/tightrope-$v.1.scd and list it in docs/man/meson.build)"
    continue
  fi
  name=${page##*/}
  name=${name%.gz}
  documents "$work/main.txt" "$v" || bad "tightrope(1) does not list the verb '$v'"
  text_of "$page" >"$work/page.txt"
  "$bin" "$v" --help >"$work/vhelp" 2>&1 </dev/null
  # Options as --help prints them: -x or --long-name after a space, '[', '|', '(' or ','; not the
  # '-1' of DHHC-1 or the '-cli' of nvme-cli.
  mapfile -t flags < <(grep -oP '(?<![\w-])--?[A-Za-z][\w-]*' "$work/vhelp" | sed 's/-*$//' | awk '!seen[$0]++')
  missing=()
  for f in "${flags[@]}"; do
    documents "$work/page.txt" "$f" || missing+=("$f")
  done
  if ((${#missing[@]})); then
    for f in "${missing[@]}"; do bad "$name does not document $f (printed by 'tightrope $v --help')"; done
  else
    ok "$name documents all ${#flags[@]} options of 'tightrope $v --help'${flags[*]:+: ${flags[*]}}"
  fi
done

# (4) ctl's requests, one per line of its --help, each in tightrope-ctl(8).
page=$(page_of tightrope-ctl)
if [[ -n $page ]]; then
  text_of "$page" >"$work/ctl.txt"
  mapfile -t reqs < <("$bin" ctl --help 2>&1 | grep -oP '^  \K[a-z][a-z-]*(?= )')
  missing=()
  for r in "${reqs[@]}"; do documents "$work/ctl.txt" "$r" || missing+=("$r"); done
  if ((${#reqs[@]} == 0)); then
    bad "no requests found in 'tightrope ctl --help'"
  elif ((${#missing[@]})); then
    for r in "${missing[@]}"; do bad "tightrope-ctl.8 does not document the request '$r' (printed by 'tightrope ctl --help')"; done
  else
    ok "tightrope-ctl.8 documents all ${#reqs[@]} requests of 'tightrope ctl --help': ${reqs[*]}"
  fi
fi
finish
