#!/usr/bin/env bash
# The kit in one command: creates .venv/ with the pinned requirements when needed, then
#   bash kit.sh main [--profile smoke|full]   prints the committed results, then runs the main job
#   bash kit.sh test [pytest options]         runs every unit test and every notebook
#   bash kit.sh setup                         only sets up
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"

setup() {
  if [ ! -x .venv/bin/python ]; then
    "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "the kit needs Python 3.11 or newer")'
    "$PY" -m venv .venv
  fi
  local want have
  want=$(.venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(b"".join(open(f,"rb").read() for f in sys.argv[1:])).hexdigest())' \
         requirements.txt constraints.txt pyproject.toml)
  have=$(cat .venv/.kit-installed 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    echo "setting up .venv (pinned requirements) ..."
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -r requirements.txt -c constraints.txt
    .venv/bin/python -m pip install -q --no-deps -e .
    echo "$want" > .venv/.kit-installed
  fi
}

cmd="${1:-help}"
[ $# -gt 0 ] && shift
case "$cmd" in
  setup) setup ;;
  main)  setup; exec .venv/bin/python -m helpers main "$@" ;;
  test)  setup; exec .venv/bin/python -m pytest tests notebooks --nbval-lax "$@" ;;
  *)     sed -n '2,6p' "$0"; exit 2 ;;
esac
